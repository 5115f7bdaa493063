// The AssemblyScript glue of Authgraph's custom-database script ABI
// (rules-sdk/ABI.md, "Custom-database scripts"), the counterpart of the Go
// templates' script package: register one handler with handle() in the entry
// file, reach the legacy database with query() and exec() (always with
// parameters: never build SQL from user input), check passwords with
// bcryptVerify() on the host. The entry file also re-exports the wasm
// exports:
//
//   export * from "../script/exports";
//
// AssemblyScript has no exceptions: a handler returns an Outcome, a result or
// a typed error, and host calls return their error as a value (.error).

import { Value, parse } from "@authgraph/rules-sdk/assembly/json";

export { Value };

// @ts-ignore: decorator
@external("idp", "log")
declare function idp_log(ptr: usize, len: usize): void;
// @ts-ignore: decorator
@external("idp", "db_query")
declare function idp_db_query(ptr: usize, len: usize): u64;
// @ts-ignore: decorator
@external("idp", "db_exec")
declare function idp_db_exec(ptr: usize, len: usize): u64;
// @ts-ignore: decorator
@external("idp", "bcrypt_verify")
declare function idp_bcrypt_verify(ptr: usize, len: usize): u64;
// @ts-ignore: decorator
@external("idp", "bcrypt_hash")
declare function idp_bcrypt_hash(ptr: usize, len: usize): u64;
// @ts-ignore: decorator
@external("idp", "host_result")
declare function idp_host_result(ptr: usize, len: usize): u32;

/** One log line (returned by testConnectionScript, kept in error reports). */
export function log(msg: string): void {
  const b = String.UTF8.encode(msg);
  idp_log(changetype<usize>(b), <usize>b.byteLength);
}

/** A typed script error: see the Outcome constructors. */
export class ScriptError {
  constructor(public code: string, public message: string, public email: string = "") {}
}

/** What a handler returns: a result (any JSON value) or a typed error. */
export class Outcome {
  result: Value = Value.nil();
  error: ScriptError | null = null;

  static ok(v: Value): Outcome {
    const o = new Outcome();
    o.result = v;
    return o;
  }
  static okBool(b: bool): Outcome {
    return Outcome.ok(Value.ofBool(b));
  }
  static okNull(): Outcome {
    return new Outcome();
  }
  static fail(code: string, message: string, email: string = ""): Outcome {
    const o = new Outcome();
    o.error = new ScriptError(code, message, email);
    return o;
  }
  /** Wrong password (email of the existing user: logged fp) or unknown user (email "": logged fu). */
  static wrongCredentials(email: string, message: string): Outcome {
    return Outcome.fail("wrong_credentials", message, email);
  }
  /** create found the user already there (logged fs). */
  static userExists(message: string): Outcome {
    return Outcome.fail("user_exists", message);
  }
  /** The input is unacceptable. */
  static validation(message: string): Outcome {
    return Outcome.fail("validation", message);
  }
  /** Anything else: the database failed, a host call was refused… */
  static system(message: string): Outcome {
    return Outcome.fail("system", message);
  }

  toJSON(): string {
    const out = Value.newObject();
    const e = this.error;
    if (e != null) {
      const ev = Value.newObject().set("code", Value.ofString(e.code)).set("message", Value.ofString(e.message));
      if (e.email != "") ev.set("email", Value.ofString(e.email));
      out.set("error", ev);
    } else {
      out.set("result", this.result);
    }
    return out.toJSON();
  }
}

/** The normalized profile login and get_user return. userId must be stable: the user becomes auth0|<userId>. */
export class Profile {
  userId: string = "";
  email: string = "";
  emailVerified: bool = false;
  username: string = "";
  name: string = "";
  nickname: string = "";

  toValue(): Value {
    const v = Value.newObject().set("user_id", Value.ofString(this.userId));
    if (this.email != "") v.set("email", Value.ofString(this.email));
    if (this.emailVerified) v.set("email_verified", Value.ofBool(true));
    if (this.username != "") v.set("username", Value.ofString(this.username));
    if (this.name != "") v.set("name", Value.ofString(this.name));
    if (this.nickname != "") v.set("nickname", Value.ofString(this.nickname));
    return v;
  }
}

/** A column of a result row as a string ("" for NULL; integers without a fraction). */
export function colString(row: Value, col: string): string {
  const v = row.get(col);
  if (v.isString()) return v.s;
  if (v.kind == 2) return v.n == Math.floor(v.n) ? (<i64>v.n).toString() : v.n.toString();
  if (v.kind == 1) return v.b ? "true" : "false";
  return "";
}

/** A boolean column (PostgreSQL boolean, MySQL TINYINT(1)). */
export function colBool(row: Value, col: string): bool {
  const v = row.get(col);
  if (v.kind == 1) return v.b;
  if (v.kind == 2) return v.n != 0;
  if (v.isString()) return v.s == "1" || v.s == "t" || v.s == "true";
  return false;
}

/** SQL parameters: sqlStr("x"), sqlNum(42), sqlBool(true). */
export function sqlStr(s: string): Value {
  return Value.ofString(s);
}
export function sqlNum(n: f64): Value {
  return Value.ofNumber(n);
}
export function sqlBool(b: bool): Value {
  return Value.ofBool(b);
}

/** The host's answer to a call: its response object, or error (never both). */
export class HostResult {
  value: Value = Value.nil();
  error: string = "";
  get ok(): bool {
    return this.error == "";
  }
  /** db_query: the rows (objects column → value). */
  get rows(): Value[] {
    const a = this.value.get("rows").items;
    return a != null ? a : new Array<Value>();
  }
  /** db_exec: the rows affected. */
  get rowsAffected(): i64 {
    return <i64>this.value.get("rows_affected").asNumber();
  }
  /** bcrypt_verify: whether the password matched. */
  get match(): bool {
    return this.value.get("match").asBool();
  }
  /** bcrypt_hash: the new hash. */
  get hash(): string {
    return this.value.get("hash").asString();
  }
}

function call(fn: (ptr: usize, len: usize) => u64, req: Value): HostResult {
  const out = new HostResult();
  const b = String.UTF8.encode(req.toJSON());
  const n = fn(changetype<usize>(b), <usize>b.byteLength);
  if (n == 0) {
    out.error = "no response from the host";
    return out;
  }
  const buf = new ArrayBuffer(<i32>n);
  const got = idp_host_result(changetype<usize>(buf), <usize>n);
  const v = parse(String.UTF8.decode(buf.slice(0, <i32>got)));
  if (v == null) {
    out.error = "invalid response from the host";
  } else if (v.get("error").isString()) {
    out.error = v.get("error").asString();
  } else {
    out.value = v;
  }
  return out;
}

function sqlRequest(sql: string, params: Value[]): Value {
  const p = Value.newArray();
  for (let i = 0; i < params.length; i++) p.push(params[i]);
  return Value.newObject().set("sql", Value.ofString(sql)).set("params", p);
}

/** A parameterized SELECT ($1… on PostgreSQL, ? on MySQL): .rows, or .error. */
export function query(sql: string, params: Value[]): HostResult {
  return call((p: usize, l: usize): u64 => idp_db_query(p, l), sqlRequest(sql, params));
}

/** A parameterized statement: .rowsAffected, or .error. */
export function exec(sql: string, params: Value[]): HostResult {
  return call((p: usize, l: usize): u64 => idp_db_exec(p, l), sqlRequest(sql, params));
}

/** Checks password against a bcrypt hash (cost ≤ 14) on the host: .match, or .error. */
export function bcryptVerify(hash: string, password: string): HostResult {
  const req = Value.newObject().set("hash", Value.ofString(hash)).set("password", Value.ofString(password));
  return call((p: usize, l: usize): u64 => idp_bcrypt_verify(p, l), req);
}

/** Hashes password with bcrypt (cost 4–14) on the host: .hash, or .error. */
export function bcryptHash(password: string, cost: i32): HostResult {
  const req = Value.newObject().set("password", Value.ofString(password)).set("cost", Value.ofNumber(<f64>cost));
  return call((p: usize, l: usize): u64 => idp_bcrypt_hash(p, l), req);
}

/** A script's handler: op is login, get_user, create, verify, change_password, delete or change_email; args as in rules-sdk/ABI.md. */
export type Handler = (op: string, args: Value) => Outcome;

let current: Handler | null = null;

/** Registers the script's handler (call it at the top level of the entry file). */
export function handle(h: Handler): void {
  current = h;
}

/** @internal the registered handler. */
export function handler(): Handler | null {
  return current;
}
