package apiv2

// clientRoutes returns the routes of this file's resource (to be filled in).
func (a *API) clientRoutes() []*Route { return nil }
