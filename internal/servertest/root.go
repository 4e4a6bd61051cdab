package servertest

import (
	"fmt"
	"os"
	"path/filepath"
	"runtime"
	"strings"
)

// UnpackedRoot returns the directory into which scripts/test-servers.sh
// unpacked a server's Debian packages: the value of the environment
// variable env, or def. It is an error when a file of need (relative
// paths) is missing there.
func UnpackedRoot(env, def string, need ...string) (string, error) {
	root := os.Getenv(env)
	if root == "" {
		root = def
	}
	for _, n := range need {
		if _, err := os.Stat(filepath.Join(root, n)); err != nil {
			return "", fmt.Errorf("%s not found in %s (set %s to move it): "+
				"run scripts/test-servers.sh as root to unpack the server there", n, root, env)
		}
	}
	return root, nil
}

// LibraryPath is the LD_LIBRARY_PATH under which the programs unpacked in
// root find the libraries unpacked beside them.
func LibraryPath(root string) string {
	arch := map[string]string{"amd64": "x86_64", "arm64": "aarch64", "386": "i386"}[runtime.GOARCH]
	if arch == "" {
		arch = runtime.GOARCH
	}
	return strings.Join([]string{
		filepath.Join(root, "usr/lib", arch+"-linux-gnu"),
		filepath.Join(root, "usr/lib"),
	}, ":")
}
