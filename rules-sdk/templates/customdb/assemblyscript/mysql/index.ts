// Custom-database template for MySQL and MariaDB, in AssemblyScript: every script
// of a connection (login, get_user, create, verify, change_password, delete,
// change_email) in one module, against the schema in schema.sql (a users
// table with bcrypt hashes). Upload the same module for each key of
// options.scripts. Build:
//
//   npx asc mysql/index.ts --config asconfig.json --target release -o mysql.wasm
//
// To adapt it to your schema, change the SQL below and the columns read in
// profile. Keep the parameters (?): never build SQL from user input.
import {
  Value, Outcome, Profile, HostResult, query, exec, bcryptVerify, bcryptHash, handle, colString, colBool, sqlStr, sqlNum, sqlBool,
} from "../script";
export * from "../script/exports";

// ID_PREFIX keeps user ids distinct from other sources: users become
// auth0|mysql|<id>. Never change it once users have migrated.
const ID_PREFIX = "mysql|";

// BCRYPT_COST of the hashes create and change_password write.
const BCRYPT_COST = 10;

// DUPLICATE is how the database reports a unique violation.
const DUPLICATE = "Duplicate entry";

const COLUMNS = "id, email, password, nickname, email_verified";

function profile(r: Value): Value {
  const p = new Profile();
  p.userId = ID_PREFIX + colString(r, "id");
  p.email = colString(r, "email");
  p.emailVerified = colBool(r, "email_verified");
  p.nickname = colString(r, "nickname");
  return p.toValue();
}

function findByEmail(email: string): HostResult {
  return query("SELECT " + COLUMNS + " FROM users WHERE lower(email) = lower(?)", [sqlStr(email)]);
}

function login(email: string, password: string): Outcome {
  const q = findByEmail(email);
  if (!q.ok) return Outcome.system(q.error);
  if (q.rows.length == 0) return Outcome.wrongCredentials("", "unknown user");
  const r = q.rows[0];
  const v = bcryptVerify(colString(r, "password"), password);
  if (!v.ok) return Outcome.system(v.error);
  if (!v.match) return Outcome.wrongCredentials(colString(r, "email"), "wrong password");
  return Outcome.ok(profile(r));
}

function getUser(email: string): Outcome {
  const q = findByEmail(email);
  if (!q.ok) return Outcome.system(q.error);
  if (q.rows.length == 0) return Outcome.okNull();
  return Outcome.ok(profile(q.rows[0]));
}

function create(user: Value): Outcome {
  const email = user.get("email").asString();
  const password = user.get("password").asString();
  if (email == "" || password == "") return Outcome.validation("email and password are required");
  const h = bcryptHash(password, BCRYPT_COST);
  if (!h.ok) return Outcome.system(h.error);
  const at = email.indexOf("@");
  const nickname = at >= 0 ? email.substring(0, at) : email;
  const e = exec("INSERT INTO users (email, password, nickname) VALUES (?, ?, ?)", [sqlStr(email), sqlStr(h.hash), sqlStr(nickname)]);
  if (!e.ok) return e.error.includes(DUPLICATE) ? Outcome.userExists("the user already exists") : Outcome.system(e.error);
  return Outcome.okNull();
}

function verify(email: string): Outcome {
  const e = exec("UPDATE users SET email_verified = true WHERE lower(email) = lower(?)", [sqlStr(email)]);
  if (!e.ok) return Outcome.system(e.error);
  return Outcome.okBool(e.rowsAffected > 0);
}

function changePassword(email: string, newPassword: string): Outcome {
  const h = bcryptHash(newPassword, BCRYPT_COST);
  if (!h.ok) return Outcome.system(h.error);
  const e = exec("UPDATE users SET password = ? WHERE lower(email) = lower(?)", [sqlStr(h.hash), sqlStr(email)]);
  if (!e.ok) return Outcome.system(e.error);
  return Outcome.okBool(e.rowsAffected > 0);
}

function remove(id: string): Outcome {
  const digits = id.startsWith(ID_PREFIX) ? id.substring(ID_PREFIX.length) : id;
  if (digits.length == 0 || digits.length > 18) return Outcome.validation("not a user id of this database: " + id);
  for (let i = 0; i < digits.length; i++) {
    const c = digits.charCodeAt(i);
    if (c < 48 || c > 57) return Outcome.validation("not a user id of this database: " + id);
  }
  const e = exec("DELETE FROM users WHERE id = ?", [sqlNum(<f64>I64.parseInt(digits))]);
  if (!e.ok) return Outcome.system(e.error);
  return Outcome.okNull();
}

function changeEmail(email: string, newEmail: string, verified: bool): Outcome {
  const e = exec("UPDATE users SET email = ?, email_verified = ? WHERE lower(email) = lower(?)",
    [sqlStr(newEmail), sqlBool(verified), sqlStr(email)]);
  if (!e.ok) return e.error.includes(DUPLICATE) ? Outcome.userExists("the new email is taken") : Outcome.system(e.error);
  return Outcome.okBool(e.rowsAffected > 0);
}

handle((op: string, a: Value): Outcome => {
  if (op == "login") return login(a.get("username").asString(), a.get("password").asString());
  if (op == "get_user") return getUser(a.get("email").asString());
  if (op == "create") return create(a.get("user"));
  if (op == "verify") return verify(a.get("email").asString());
  if (op == "change_password") return changePassword(a.get("email").asString(), a.get("new_password").asString());
  if (op == "delete") return remove(a.get("id").asString());
  if (op == "change_email") return changeEmail(a.get("email").asString(), a.get("new_email").asString(), a.get("verified").asBool());
  return Outcome.system("this script does not implement " + op);
});
