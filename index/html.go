package index

import (
	"io"

	"golang.org/x/net/html"
	"golang.org/x/net/html/atom"
)

// maxHTMLToken bounds the tokenizer's buffer: one tag or run of text.
const maxHTMLToken = 1 << 20

// htmlText writes the text of an HTML document to w: tags dropped, the
// contents of script, style, head and similar elements skipped, entities
// decoded, a line break at each block element. It stops at the first
// error of w (errTextFull once the text is complete).
func htmlText(w io.Writer, r io.Reader) error {
	z := html.NewTokenizer(r)
	z.SetMaxBuf(maxHTMLToken)
	skip := 0
	for {
		var err error
		switch tt := z.Next(); tt {
		case html.ErrorToken:
			if z.Err() == io.EOF {
				return nil
			}
			return z.Err()
		case html.TextToken:
			if skip == 0 {
				_, err = w.Write(z.Text())
			}
		case html.StartTagToken, html.SelfClosingTagToken, html.EndTagToken:
			err = htmlTag(w, z, tt, &skip)
		}
		if err != nil {
			return err
		}
	}
}

// htmlTag counts the hidden elements the tokenizer is in and breaks the
// text at block elements.
func htmlTag(w io.Writer, z *html.Tokenizer, tt html.TokenType, skip *int) error {
	name, _ := z.TagName()
	a := atom.Lookup(name)
	switch {
	case a == atom.Body && tt == html.StartTagToken:
		*skip = 0 // a head left open ends here
	case hidden[a] && tt == html.StartTagToken:
		*skip++
	case hidden[a] && tt == html.EndTagToken && *skip > 0:
		*skip--
	case block[a] && *skip == 0:
		_, err := io.WriteString(w, "\n")
		return err
	}
	return nil
}

// hidden elements hold no text a reader sees.
var hidden = map[atom.Atom]bool{atom.Script: true, atom.Style: true, atom.Head: true,
	atom.Title: true, atom.Template: true, atom.Noscript: true, atom.Svg: true, atom.Object: true}

// block elements separate words.
var block = map[atom.Atom]bool{atom.Br: true, atom.P: true, atom.Div: true, atom.Tr: true,
	atom.Td: true, atom.Th: true, atom.Li: true, atom.Ul: true, atom.Ol: true, atom.Table: true,
	atom.H1: true, atom.H2: true, atom.H3: true, atom.H4: true, atom.H5: true, atom.H6: true,
	atom.Blockquote: true, atom.Pre: true, atom.Hr: true, atom.Section: true, atom.Article: true,
	atom.Header: true, atom.Footer: true, atom.Dt: true, atom.Dd: true, atom.Body: true}
