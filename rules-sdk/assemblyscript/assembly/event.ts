// Typed view of the post-login event (rules-sdk/schema/event.schema.json).
// Metadata and profile data stay JSON Values: their shape is the tenant's.

import { Value } from "./json";

export class Identity {
  connection: string = "";
  provider: string = "";
  userId: string = "";
  isSocial: bool = false;
  profileData: Value = Value.nil();
}

export class User {
  userId: string = "";
  email: string = "";
  emailVerified: bool = false;
  username: string = "";
  phoneNumber: string = "";
  phoneVerified: bool = false;
  name: string = "";
  givenName: string = "";
  familyName: string = "";
  nickname: string = "";
  picture: string = "";
  blocked: bool = false;
  identities: Identity[] = [];
  userMetadata: Value = Value.newObject();
  appMetadata: Value = Value.newObject();
  createdAt: string = "";
  updatedAt: string = "";
  /** Empty on the first login. */
  lastLogin: string = "";
  loginsCount: i64 = 0;
}

export class Client {
  clientId: string = "";
  name: string = "";
  metadata: Value = Value.newObject();
}

export class Connection {
  id: string = "";
  name: string = "";
  strategy: string = "";
}

export class Request {
  ip: string = "";
  userAgent: string = "";
  hostname: string = "";
}

export class Transaction {
  protocol: string = "";
  requestedScopes: string[] = [];
  redirectUri: string = "";
}

export class Stats {
  loginsCount: i64 = 0;
}

/** Auth0's event.authorization (empty from hosts before it). */
export class Authorization {
  /** Names of the user's roles, sorted, as earlier rules' role commands left them. */
  roles: string[] = [];
}

export class AuthenticationMethod {
  /** pwd (password), fed (a federated connection), otp, mfa (a second factor was passed)... */
  name: string = "";
  /** RFC 3339 time the user authenticated. */
  timestamp: string = "";
}

/** Auth0's event.authentication (empty from hosts before it). */
export class Authentication {
  /** How the user authenticated in this session; at refresh, those of the original login. */
  methods: AuthenticationMethod[] = [];

  /** Whether the user authenticated with the method named name ("mfa": a second factor was passed). */
  hasMethod(name: string): bool {
    for (let i = 0; i < this.methods.length; i++) {
      if (this.methods[i].name == name) return true;
    }
    return false;
  }
}

export class RuleInfo {
  id: string = "";
  name: string = "";
}

export class Event {
  user: User = new User();
  client: Client = new Client();
  connection: Connection = new Connection();
  request: Request = new Request();
  transaction: Transaction = new Transaction();
  stats: Stats = new Stats();
  authorization: Authorization = new Authorization();
  authentication: Authentication = new Authentication();
  /** This rule's secrets: secrets.get("NAME").asString(). */
  secrets: Value = Value.newObject();
  /** RFC 3339 time from the host clock (the guest clock is fake). */
  now: string = "";
  rule: RuleInfo = new RuleInfo();
  /** The whole event as JSON, for members this SDK version does not type. */
  raw: Value = Value.nil();

  /** The secret's value, or "" when the rule has no such secret. */
  secret(name: string): string {
    return this.secrets.get(name).asString();
  }

  static fromJSON(v: Value): Event {
    const e = new Event();
    e.raw = v;
    const u = v.get("user");
    const user = e.user;
    user.userId = u.get("user_id").asString();
    user.email = u.get("email").asString();
    user.emailVerified = u.get("email_verified").asBool();
    user.username = u.get("username").asString();
    user.phoneNumber = u.get("phone_number").asString();
    user.phoneVerified = u.get("phone_verified").asBool();
    user.name = u.get("name").asString();
    user.givenName = u.get("given_name").asString();
    user.familyName = u.get("family_name").asString();
    user.nickname = u.get("nickname").asString();
    user.picture = u.get("picture").asString();
    user.blocked = u.get("blocked").asBool();
    const ids = u.get("identities");
    for (let i = 0; i < ids.length; i++) {
      const j = ids.at(i);
      const id = new Identity();
      id.connection = j.get("connection").asString();
      id.provider = j.get("provider").asString();
      id.userId = j.get("user_id").asString();
      id.isSocial = j.get("is_social").asBool();
      id.profileData = j.get("profile_data");
      user.identities.push(id);
    }
    user.userMetadata = objectOrEmpty(u.get("user_metadata"));
    user.appMetadata = objectOrEmpty(u.get("app_metadata"));
    user.createdAt = u.get("created_at").asString();
    user.updatedAt = u.get("updated_at").asString();
    user.lastLogin = u.get("last_login").asString();
    user.loginsCount = <i64>u.get("logins_count").asNumber();

    const c = v.get("client");
    e.client.clientId = c.get("client_id").asString();
    e.client.name = c.get("name").asString();
    e.client.metadata = objectOrEmpty(c.get("metadata"));

    const cn = v.get("connection");
    e.connection.id = cn.get("id").asString();
    e.connection.name = cn.get("name").asString();
    e.connection.strategy = cn.get("strategy").asString();

    const r = v.get("request");
    e.request.ip = r.get("ip").asString();
    e.request.userAgent = r.get("user_agent").asString();
    e.request.hostname = r.get("hostname").asString();

    const t = v.get("transaction");
    e.transaction.protocol = t.get("protocol").asString();
    e.transaction.requestedScopes = t.get("requested_scopes").asStrings();
    e.transaction.redirectUri = t.get("redirect_uri").asString();

    e.stats.loginsCount = <i64>v.get("stats").get("logins_count").asNumber();
    e.authorization.roles = v.get("authorization").get("roles").asStrings();
    const methods = v.get("authentication").get("methods");
    for (let i = 0; i < methods.length; i++) {
      const j = methods.at(i);
      const m = new AuthenticationMethod();
      m.name = j.get("name").asString();
      m.timestamp = j.get("timestamp").asString();
      e.authentication.methods.push(m);
    }
    e.secrets = objectOrEmpty(v.get("secrets"));
    e.now = v.get("now").asString();
    e.rule.id = v.get("rule").get("id").asString();
    e.rule.name = v.get("rule").get("name").asString();
    return e;
  }
}

function objectOrEmpty(v: Value): Value {
  return v.isObject() ? v : Value.newObject();
}
