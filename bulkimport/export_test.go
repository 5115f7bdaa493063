package bulkimport

import "context"

// SetBeforeCopy sets the hook run between a batch's checks and its COPY;
// the returned func restores the previous one.
func SetBeforeCopy(f func(ctx context.Context)) (restore func()) {
	old := beforeCopy
	beforeCopy = f
	return func() { beforeCopy = old }
}

// SetMaxDecompressed sets the cap on a gzip file's decompressed size; the
// returned func restores it.
func SetMaxDecompressed(n int64) (restore func()) {
	old := maxDecompressed
	maxDecompressed = n
	return func() { maxDecompressed = old }
}
