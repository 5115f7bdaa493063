package apiv2

// ruleRoutes returns the routes of this file's resource (to be filled in).
func (a *API) ruleRoutes() []*Route { return nil }
