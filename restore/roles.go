package restore

import (
	"strings"

	"github.com/emersion/go-imap/v2"
)

// roles are the RFC 6154 special uses a restore maps by role, in the
// order they are given out.
var roles = []imap.MailboxAttr{
	imap.MailboxAttrSent, imap.MailboxAttrDrafts, imap.MailboxAttrTrash, imap.MailboxAttrJunk,
	imap.MailboxAttrArchive, imap.MailboxAttrAll, imap.MailboxAttrFlagged,
}

// roleNames are the names that give a folder its role where the server
// gives no attribute: what common servers and clients call their special
// folders, in several languages, "/" separating levels. Earlier names win
// when a side has several. Names are compared without regard to case,
// relative to the personal namespace ("INBOX.Sent" on Courier is "Sent").
var roleNames = map[imap.MailboxAttr][]string{
	imap.MailboxAttrSent: {
		"Sent", "Sent Items", "Sent Messages", "Sent Mail", "[Gmail]/Sent Mail", "[Google Mail]/Sent Mail",
		"Gesendet", "Gesendete Objekte", "Gesendete Elemente", "Éléments envoyés", "Messages envoyés", "Envoyés",
		"Enviados", "Elementos enviados", "Posta inviata", "Inviata", "Verzonden", "Verzonden items",
		"Skickat", "Skickade objekt", "Sendt", "Lähetetyt", "Wysłane", "Отправленные",
	},
	imap.MailboxAttrDrafts: {
		"Drafts", "Draft", "[Gmail]/Drafts", "[Google Mail]/Drafts", "Entwürfe", "Brouillons", "Borradores",
		"Bozze", "Concepten", "Utkast", "Kladder", "Luonnokset", "Kopie robocze", "Черновики",
	},
	imap.MailboxAttrTrash: {
		"Trash", "Deleted Items", "Deleted Messages", "Deleted", "Bin", "[Gmail]/Trash", "[Google Mail]/Trash",
		"[Gmail]/Bin", "[Google Mail]/Bin", "Papierkorb", "Gelöschte Elemente", "Gelöschte Objekte",
		"Corbeille", "Éléments supprimés", "Papelera", "Elementos eliminados", "Cestino", "Prullenbak",
		"Verwijderde items", "Papperskorgen", "Borttagna objekt", "Papirkurv", "Roskakori", "Kosz", "Корзина",
	},
	imap.MailboxAttrJunk: {
		"Junk", "Spam", "Junk E-mail", "Junk Email", "Junk Mail", "Bulk Mail", "[Gmail]/Spam",
		"[Google Mail]/Spam", "Junk-E-Mail", "Unerwünscht", "Courrier indésirable", "Indésirables",
		"Correo no deseado", "Posta indesiderata", "Ongewenste e-mail", "Skräppost", "Uønsket e-post",
		"Roskaposti", "Спам",
	},
	imap.MailboxAttrArchive: {"Archive", "Archives", "Archiv", "Archief", "Archivio", "Archivo", "Arkiv", "Архив"},
	imap.MailboxAttrAll:     {"All Mail", "[Gmail]/All Mail", "[Google Mail]/All Mail"},
	imap.MailboxAttrFlagged: {"Flagged", "Starred", "[Gmail]/Starred", "[Google Mail]/Starred"},
}

// roleByName returns the role a relative folder name gives, and its rank
// among the role's names; ok is false for no role.
func roleByName(rel []string) (role imap.MailboxAttr, rank int, ok bool) {
	name := strings.Join(rel, "/")
	for _, r := range roles {
		for i, n := range roleNames[r] {
			if strings.EqualFold(n, name) {
				return r, i, true
			}
		}
	}
	return "", 0, false
}

// roleOf returns the first role among a folder's special-use attributes.
func roleOf(use []string) (imap.MailboxAttr, bool) {
	for _, r := range roles {
		for _, u := range use {
			if strings.EqualFold(u, string(r)) {
				return r, true
			}
		}
	}
	return "", false
}
