# Dashboard assets: the prebuilt GraphiQL playground files, vendored from
# locked npm packages (server/dashboard/web/package-lock.json) into
# server/dashboard/assets/vendor, which is committed and embedded with
# go:embed so a plain `go build` serves the playground offline. The
# dashboard's own JavaScript is hand-written ES modules: no build step.
DASHBOARD_WEB    := server/dashboard/web
DASHBOARD_VENDOR := server/dashboard/assets/vendor
NPM              ?= npm

.PHONY: dashboard-assets

## dashboard-assets: refresh the vendored GraphiQL/React files from the lockfile.
dashboard-assets:
	cd $(DASHBOARD_WEB) && $(NPM) ci --ignore-scripts --no-audit --no-fund
	mkdir -p $(DASHBOARD_VENDOR)
	cp $(DASHBOARD_WEB)/node_modules/react/umd/react.production.min.js $(DASHBOARD_VENDOR)/react.production.min.js
	cp $(DASHBOARD_WEB)/node_modules/react-dom/umd/react-dom.production.min.js $(DASHBOARD_VENDOR)/react-dom.production.min.js
	cp $(DASHBOARD_WEB)/node_modules/graphiql/graphiql.min.js $(DASHBOARD_VENDOR)/graphiql.min.js
	cp $(DASHBOARD_WEB)/node_modules/graphiql/graphiql.min.css $(DASHBOARD_VENDOR)/graphiql.min.css
	cat $(DASHBOARD_WEB)/node_modules/react/LICENSE > $(DASHBOARD_VENDOR)/LICENSES.txt
	printf '\n---- graphiql ----\n' >> $(DASHBOARD_VENDOR)/LICENSES.txt
	cat $(DASHBOARD_WEB)/node_modules/graphiql/LICENSE >> $(DASHBOARD_VENDOR)/LICENSES.txt
