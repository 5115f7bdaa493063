package store

// BlockListening makes every listening connection's dials fail while on.
func BlockListening(on bool) { listenBlocked.Store(on) }
