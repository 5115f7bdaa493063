package apiv2

// logRoutes returns the routes of this file's resource (to be filled in).
func (a *API) logRoutes() []*Route { return nil }
