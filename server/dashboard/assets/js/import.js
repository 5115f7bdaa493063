// Import users from an Auth0 bulk-import file (JSON array or NDJSON,
// optionally gzipped) into a database connection, then follow the job.
import { gql, gqlUpload } from "./api.js";
import { h, field, errorBox, go, params, json, setFieldError } from "./dom.js";

const CONNECTIONS = `{ connections(first: 100, orderBy: {field: NAME, direction: ASC}) { edges { node { name strategy } } } }`;
const IMPORT = `mutation Import($connection: String!, $upsert: Boolean, $file: Upload!) {
  importUsers(connection: $connection, upsert: $upsert, file: $file) { id } }`;
const JOB = `query Job($id: ID!) { job(id: $id) {
  id status connection upsert percentageDone timeLeftSeconds rowsDone error createdAt
  summary { inserted updated failed total }
  errors(first: 100) { row user errors { code message path } } } }`;

// Import jobs run in the background; the page asks again this often.
const POLL_MS = 1000;

export async function importPage() {
  const id = params().get("job");
  return id ? jobView(id) : importForm();
}

async function importForm() {
  const page = h("section", h("h1", "Import users"),
    h("p.muted", "Upload an Auth0 bulk-import file: a JSON array of users or one user per line (NDJSON), optionally gzipped."));
  let conns;
  try {
    conns = (await gql(CONNECTIONS)).connections.edges.map((e) => e.node).filter((c) => c.strategy === "database");
  } catch (err) {
    page.append(errorBox(err));
    return page;
  }
  if (!conns.length) {
    page.append(h("p", "There is no database connection to import into."));
    return page;
  }
  const conn = h("select", { name: "connection", required: true }, conns.map((c) => h("option", { value: c.name }, c.name)));
  const upsert = h("input", { type: "checkbox", name: "upsert" });
  const file = h("input", { type: "file", name: "file", required: true, accept: ".json,.ndjson,.jsonl,.gz,application/json,application/gzip" });
  const status = h("div", { id: "import-status" });
  const submit = h("button", { type: "submit" }, "Import");
  const form = h("form.import", { onsubmit: async (e) => {
    e.preventDefault();
    setFieldError(file, "");
    if (!file.files.length) { setFieldError(file, "Choose a file."); return; }
    submit.disabled = true;
    status.replaceChildren(h("p.muted", "Uploading…"));
    try {
      const upload = await plainFile(file.files[0]);
      const d = await gqlUpload(IMPORT, { connection: conn.value, upsert: upsert.checked }, { file: upload });
      go("#/import", { job: d.importUsers.id });
    } catch (err) {
      const fe = err.fieldErrors ? err.fieldErrors() : {};
      if (fe.file) setFieldError(file, fe.file);
      status.replaceChildren(errorBox(err));
      submit.disabled = false;
    }
  } },
  field("Database connection", conn),
  field("File", file, "Auth0's bulk-import format; a malformed file is refused whole."),
  h("div.field", h("label", upsert, " Update users that already exist (upsert, matched by email)")),
  h("div.actions", submit), status);
  page.append(form);
  return page;
}

// plainFile returns file, gunzipped in the browser when it is gzip (the
// server takes the JSON itself); the browser may keep a large result on disk.
async function plainFile(file) {
  const head = new Uint8Array(await file.slice(0, 2).arrayBuffer());
  if (head[0] !== 0x1f || head[1] !== 0x8b) return file;
  const blob = await new Response(file.stream().pipeThrough(new DecompressionStream("gzip"))).blob();
  return new File([blob], file.name.replace(/\.gz$/i, ""), { type: "application/json" });
}

async function jobView(id) {
  const page = h("section", h("h1", "Import job"), h("p", h("a", { href: "#/import" }, "← New import")));
  const body = h("div", { id: "job", "aria-live": "polite" });
  page.append(body);
  let first = true;
  const poll = async () => {
    // Stop once the page has been left.
    if (!first && !page.isConnected) return;
    let j;
    try {
      j = (await gql(JOB, { id })).job;
    } catch (err) {
      body.replaceChildren(errorBox(err));
      return;
    }
    first = false;
    if (!j) { body.replaceChildren(h("p", "No such job.")); return; }
    body.replaceChildren(renderJob(j));
    if (j.status === "pending" || j.status === "processing") setTimeout(poll, POLL_MS);
  };
  await poll();
  return page;
}

function renderJob(j) {
  const s = j.summary;
  const done = j.status === "completed" || j.status === "failed";
  const out = h("div",
    h("dl.props",
      h("dt", "Job"), h("dd.mono", j.id),
      h("dt", "Connection"), h("dd", j.connection || "—"),
      h("dt", "Upsert"), h("dd", j.upsert ? "yes" : "no"),
      h("dt", "Status"), h("dd", h("span.badge" + (j.status === "failed" ? ".danger" : ""), { id: "job-status" }, j.status)),
      h("dt", "Progress"), h("dd", h("progress", { max: 100, value: j.percentageDone }), ` ${j.percentageDone}%`,
        !done && j.timeLeftSeconds > 0 ? ` · about ${j.timeLeftSeconds} s left` : ""),
      h("dt", "Summary"), h("dd", { id: "job-summary" },
        `${s.inserted} inserted, ${s.updated} updated, ${s.failed} failed, ${s.total} total`)),
    j.error ? h("div.alert", { role: "alert" }, h("p", j.error)) : null);
  if (j.errors.length) {
    out.append(h("h2", "Refused rows"), h("div.table-wrap", h("table", { id: "job-errors" },
      h("thead", h("tr", ["Row", "Errors", "User (as given, secrets masked)"].map((t) => h("th", { scope: "col" }, t)))),
      h("tbody", j.errors.map((e) => h("tr",
        h("td.num", String(e.row)),
        h("td", h("ul", e.errors.map((d) => h("li", h("code", d.code), " ", d.message, d.path ? ` (${d.path})` : "")))),
        h("td", h("details", h("summary", "Row"), h("pre", json(e.user))))))))));
    if (s.failed > j.errors.length) out.append(h("p.muted", `The first ${j.errors.length} of ${s.failed} refused rows.`));
  }
  return out;
}
