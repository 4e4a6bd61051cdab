package archive

import (
	"crypto/sha256"
	"encoding/hex"
)

// HandleDigits is the length of a message handle.
const HandleDigits = 12

// Handle names a message within its account for the command line
// ("work/3f9a1c07d2e4"): the first HandleDigits hex digits of the
// SHA-256 of its folder's name and its key. Both survive runs, a
// UIDVALIDITY renumbering and a rebuilt catalog, so the handle does too.
func Handle(folder, key string) string {
	sum := sha256.Sum256([]byte(folder + "\x00" + key))
	return hex.EncodeToString(sum[:])[:HandleDigits]
}
