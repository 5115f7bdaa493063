package apiv2

// jobRoutes returns the routes of this file's resource (to be filled in).
func (a *API) jobRoutes() []*Route { return nil }
