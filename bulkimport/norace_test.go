//go:build !race

package bulkimport_test

// largeFileRows is TestLargeFile's size.
const largeFileRows = 100000
