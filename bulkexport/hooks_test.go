package bulkexport

// Claim and Execute expose the two halves of RunJob to the tests, which
// need a runner that claimed a job and then stalled.
var (
	Claim   = claim
	Execute = execute
)
