package apiv2

// connectionRoutes returns the routes of this file's resource (to be filled in).
func (a *API) connectionRoutes() []*Route { return nil }
