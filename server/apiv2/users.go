package apiv2

// userRoutes returns the routes of this file's resource (to be filled in).
func (a *API) userRoutes() []*Route { return nil }
