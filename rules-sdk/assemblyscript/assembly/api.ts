// Commands a rule returns (rules-sdk/schema/result.schema.json). They are
// declarative: the host applies them once the whole pipeline succeeded.

import { Value } from "./json";

@external("idp", "log")
declare function idp_log(ptr: usize, len: usize): void;

/** Converts a string, bool, number, string[] or Value to a JSON Value. */
export function toValue<T>(v: T): Value {
  if (isBoolean<T>()) return Value.ofBool(<bool>v);
  if (isInteger<T>() || isFloat<T>()) return Value.ofNumber(<f64>v);
  if (isString<T>()) {
    if (isNullable<T>() && changetype<usize>(v) == 0) return Value.nil();
    return Value.ofString(changetype<string>(v));
  }
  if (isArray<T>()) {
    const out = Value.newArray();
    // @ts-ignore: T is an array here
    for (let i = 0; i < v.length; i++) out.push(toValue(v[i]));
    return out;
  }
  if (isReference<T>()) {
    if (changetype<usize>(v) == 0) return Value.nil();
    if (v instanceof Value) return changetype<Value>(v);
  }
  ERROR("toValue: use a string, bool, number, array or Value");
  return Value.nil();
}

export class API {
  result: Value = Value.newObject();
  private rolesAdded: string[] = [];
  private rolesRemoved: string[] = [];

  /** Fails the login with access_denied; later rules do not run. */
  deny(reason: string): void {
    this.result.set("deny", Value.newObject().set("reason", Value.ofString(reason)));
  }

  /** Adds an ID token claim; the name must be a URL or URN. */
  setIdTokenClaim<T>(name: string, value: T): void {
    this.section("id_token_claims").set(name, toValue<T>(value));
  }

  /** Adds an access token claim; the name must be a URL or URN. */
  setAccessTokenClaim<T>(name: string, value: T): void {
    this.section("access_token_claims").set(name, toValue<T>(value));
  }

  /** Sets a top-level app_metadata key (no '.' or '$' in keys). */
  setAppMetadata<T>(key: string, value: T): void {
    this.section("app_metadata").set(key, toValue<T>(value));
  }

  deleteAppMetadata(key: string): void {
    this.section("app_metadata").set(key, Value.nil());
  }

  setUserMetadata<T>(key: string, value: T): void {
    this.section("user_metadata").set(key, toValue<T>(value));
  }

  deleteUserMetadata(key: string): void {
    this.section("user_metadata").set(key, Value.nil());
  }

  /** Reserved in ABI v1: asks the host to link this identity to userId. */
  linkTo(userId: string): void {
    this.result.set("link_to", Value.newObject().set("user_id", Value.ofString(userId)));
  }

  /**
   * Asks for a second factor before the login completes (Auth0's
   * api.multifactor.enable). Unless the user already passed one in this
   * session (event.authentication.hasMethod("mfa")), the host sends them to
   * the challenge, applies nothing the rules decided, and runs the rules
   * again afterwards. Ignored at refresh; a deny wins.
   */
  requireMfa(): void {
    this.result.set("require_mfa", Value.ofBool(true));
  }

  /**
   * Gives the user the role named name for this login only: later rules see
   * it in event.authorization.roles and the token's API scopes and
   * permissions count it. Nothing is stored; an unknown name grants nothing.
   */
  addRole(name: string): void {
    this.rolesAdded = without(this.rolesAdded, name);
    this.rolesAdded.push(name);
    this.rolesRemoved = without(this.rolesRemoved, name);
    this.writeRoles();
  }

  /** Takes the role named name from the user for this login only. */
  removeRole(name: string): void {
    this.rolesRemoved = without(this.rolesRemoved, name);
    this.rolesRemoved.push(name);
    this.rolesAdded = without(this.rolesAdded, name);
    this.writeRoles();
  }

  /** Fails the login with rule_failed (AssemblyScript has no exceptions). */
  fail(message: string): void {
    this.result.set("error", Value.newObject().set("message", Value.ofString(message)));
  }

  /** Writes a log line; the host caps lines and redacts secret values. */
  log(message: string): void {
    const buf = String.UTF8.encode(message);
    idp_log(changetype<usize>(buf), <usize>buf.byteLength);
  }

  private writeRoles(): void {
    const r = Value.newObject();
    if (this.rolesAdded.length > 0) r.set("add", Value.ofStrings(this.rolesAdded));
    if (this.rolesRemoved.length > 0) r.set("remove", Value.ofStrings(this.rolesRemoved));
    this.result.set("roles", r);
  }

  private section(name: string): Value {
    let v = this.result.get(name);
    if (!v.isObject()) {
      v = Value.newObject();
      this.result.set(name, v);
    }
    return v;
  }
}

function without(a: string[], s: string): string[] {
  const out = new Array<string>();
  for (let i = 0; i < a.length; i++) {
    if (a[i] != s) out.push(a[i]);
  }
  return out;
}
