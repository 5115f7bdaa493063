package apiv2

// identityRoutes returns the routes of this file's resource (to be filled in).
func (a *API) identityRoutes() []*Route { return nil }
