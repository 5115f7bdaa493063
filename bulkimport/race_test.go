//go:build race

package bulkimport_test

// largeFileRows is TestLargeFile's size under the race detector.
const largeFileRows = 20000
