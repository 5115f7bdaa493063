// GraphiQL against /graphql with the signed-in administrator's token (kept
// by the dashboard in sessionStorage). Loaded as a classic script after
// the vendored React and GraphiQL UMD files: nothing is fetched remotely.
(function () {
  "use strict";
  var root = document.getElementById("graphiql");
  var base = location.pathname.replace(/playground$/, "");
  var raw = sessionStorage.getItem("authgraph.session");
  var session = null;
  try { session = raw ? JSON.parse(raw) : null; } catch (e) { session = null; }
  if (!session || !session.accessToken || session.expiresAt < Date.now()) {
    // Sign in through the dashboard, which brings the admin back here.
    sessionStorage.setItem("authgraph.return", "playground");
    location.replace(base + "dashboard/#/login");
    return;
  }
  var url = base + "graphql";
  var headers = JSON.stringify({ Authorization: "Bearer " + session.accessToken }, null, 2);
  var fetcher = GraphiQL.createFetcher({ url: url });
  var defaultQuery = "# Your administrator token is in the Headers tab below.\n" +
    "# Press Ctrl-Enter to run; the Docs button (top left) browses the schema.\n" +
    "query RecentUsers {\n  users(first: 5) {\n    totalCount\n    edges { node { id userId email blocked } }\n  }\n}\n";
  // The API refuses operations nested deeper than 12 levels, and GraphiQL's
  // own introspection query nests type references 13 deep. This one stops
  // at six wrappers ([[T!]!]! needs five), which fits the limit.
  var typeRef = "kind name ofType { kind name ofType { kind name ofType { kind name ofType { kind name ofType { kind name ofType { kind name } } } } } }";
  var inputValue = "name description type { " + typeRef + " } defaultValue";
  var introspection = "query IntrospectionQuery { __schema { queryType { name } mutationType { name } subscriptionType { name } " +
    "types { kind name description " +
    "fields(includeDeprecated: true) { name description args { " + inputValue + " } type { " + typeRef + " } isDeprecated deprecationReason } " +
    "inputFields { " + inputValue + " } interfaces { " + typeRef + " } " +
    "enumValues(includeDeprecated: true) { name description isDeprecated deprecationReason } possibleTypes { " + typeRef + " } } " +
    "directives { name description locations args { " + inputValue + " } } } }";

  function render(schema) {
    root.textContent = "";
    ReactDOM.createRoot(root).render(React.createElement(GraphiQL, {
      fetcher: fetcher,
      schema: schema,
      defaultQuery: defaultQuery,
      headers: headers,
      defaultEditorToolsVisibility: "headers",
      shouldPersistHeaders: false,
      isHeadersEditorEnabled: true,
    }));
  }

  fetch(url, {
    method: "POST",
    headers: { "Content-Type": "application/json", Authorization: "Bearer " + session.accessToken },
    body: JSON.stringify({ query: introspection, operationName: "IntrospectionQuery" }),
    credentials: "omit",
  }).then(function (r) { return r.json(); }).then(function (body) {
    render(body && body.data && body.data.__schema ? body.data : undefined);
  }, function () { render(undefined); });
})();
