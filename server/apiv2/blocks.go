package apiv2

// userBlockRoutes returns the routes of this file's resource (to be filled in).
func (a *API) userBlockRoutes() []*Route { return nil }
