package bulkexport

// Claim and Execute expose the two halves of RunJob to the tests, which
// need a runner that claimed a job and then stalled.
var (
	Claim   = claim
	Execute = execute
)

// Occupy takes n of this process's export slots until the returned
// function is called.
func Occupy(n int) (release func()) {
	for range n {
		slots <- struct{}{}
	}
	return func() {
		for range n {
			<-slots
		}
	}
}
