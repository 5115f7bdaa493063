package apiv2

// ticketRoutes returns the routes of this file's resource (to be filled in).
func (a *API) ticketRoutes() []*Route { return nil }
