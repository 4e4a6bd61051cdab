package export

import (
	"fmt"
	"path"
	"path/filepath"
	"strings"

	"github.com/mailkeep/mailkeep/archive"
)

// folderDir maps a folder's archive directory (the catalog's dir: one
// component per hierarchy level, made by archive.FolderDir, which is
// injective and escapes every '%' and a leading '.') to its directory in an
// export whose files end in ext (".eml", ".mbox"). Components stay as they
// are, except that one ending in ext ends in "%2E" and the rest of ext
// instead (".eml" → "%2Eeml"): so no directory is named like a file of the
// export. The mapping stays injective: the archive writes "%2E" only for a
// leading '.', and a component that ends in ext has its '.' elsewhere.
func folderDir(rel, ext string) (string, error) {
	rel, err := localDir(rel)
	if err != nil {
		return "", err
	}
	parts := strings.Split(rel, "/")
	for i, p := range parts {
		if base, ok := strings.CutSuffix(p, ext); ok {
			parts[i] = base + "%2E" + ext[1:]
		}
	}
	return strings.Join(parts, "/"), nil
}

// localDir checks that a folder's archive directory stays inside the
// export (openFolder checked it too, for the archive) and cleans it.
func localDir(rel string) (string, error) {
	if rel == "" || !filepath.IsLocal(filepath.FromSlash(rel)) {
		return "", fmt.Errorf("folder directory %q lies outside the export", rel)
	}
	return path.Clean(rel), nil
}

// emlName is the file name of a message in an eml export: its
// INTERNALDATE in UTC, so that names sort by date, then its archive key,
// unique in the folder. It never begins with '.' and always ends in ".eml".
func emlName(m archive.Message) string {
	return m.InternalDate.UTC().Format("20060102-150405") + "-" + m.Key + ".eml"
}
