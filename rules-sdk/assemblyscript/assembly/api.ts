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

  /** Fails the login with rule_failed (AssemblyScript has no exceptions). */
  fail(message: string): void {
    this.result.set("error", Value.newObject().set("message", Value.ofString(message)));
  }

  /** Writes a log line; the host caps lines and redacts secret values. */
  log(message: string): void {
    const buf = String.UTF8.encode(message);
    idp_log(changetype<usize>(buf), <usize>buf.byteLength);
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
