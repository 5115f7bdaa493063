// The metadata PATCH semantics of updateUser (identity.MergeMetadata):
// one level deep (a top-level key replaces its whole value), a null value
// deletes the key, and an empty object clears everything.
export function mergeMetadata(stored, patch) {
  if (Object.keys(patch).length === 0) return {};
  const out = Object.assign({}, stored || {});
  for (const [k, v] of Object.entries(patch)) {
    if (v === null) delete out[k];
    else out[k] = v;
  }
  return out;
}

// parsePatch validates editor text: it must be a JSON object.
// Returns {value} or {error}.
export function parsePatch(text) {
  let v;
  try {
    v = JSON.parse(text);
  } catch (e) {
    return { error: "Not valid JSON: " + e.message };
  }
  if (v === null || typeof v !== "object" || Array.isArray(v)) {
    return { error: "Metadata must be a JSON object, like {\"plan\": \"gold\"}." };
  }
  return { value: v };
}
