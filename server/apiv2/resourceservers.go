package apiv2

// resourceServerRoutes returns the routes of this file's resource (to be filled in).
func (a *API) resourceServerRoutes() []*Route { return nil }
