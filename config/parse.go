package config

import (
	"bytes"
	"cmp"
	"errors"
	"fmt"
	"io"
	"slices"

	"go.yaml.in/yaml/v3"
)

// Parsing makes three passes over one yaml.Node tree.
//
//  1. document: yaml.Decoder turns the text into nodes and reports syntax
//     errors and a second document.
//  2. walk: every mapping is compared with the yaml tags of the struct it
//     will fill. yaml.v3 checks for unknown keys only in Decoder.Decode with
//     KnownFields(true), not in Node.Decode, and its message names a Go type
//     ("field prot not found in type config.Account"). Walking the nodes
//     ourselves names the key, its line and its account, and does not depend
//     on the wording of yaml.v3's messages. The walk also notes the line of
//     every key for the messages of the later checks.
//  3. decode: Node.Decode fills the structs, so yaml.v3 still does the type
//     conversions, merge keys, duplicate keys and alias limits. Accounts are
//     decoded one at a time so each message carries its account's name.
//
// Then check validates the values and fills in defaults. Every problem is
// collected, so the user sees all of them at once.

// fileLayout is the top level of the file as decoded: Config with the
// accounts kept as a node, to be decoded one by one. It holds the parsed
// nodes themselves, so an anchored account is the same node wherever it
// is walked.
type fileLayout struct {
	Archive  string    `yaml:"archive"`
	StateDir string    `yaml:"state_dir"`
	Accounts yaml.Node `yaml:"accounts"`
	Agent    Agent     `yaml:"agent"`
	Serve    *Serve    `yaml:"serve"`
}

// Parse parses and checks a configuration file's contents. path is where
// they came from: it names the file in messages and relative paths are
// resolved against its directory. The error joins one error per problem,
// each starting "<path>:<line>: ".
func Parse(data []byte, path string) (*Config, error) {
	p := newParser(path)
	root, ok := p.document(data)
	if !ok {
		return nil, p.err()
	}
	cfg := &Config{Path: path}
	top, accounts := p.decode(root, cfg)
	check(cfg, top, accounts)
	if err := p.err(); err != nil {
		return nil, err
	}
	return cfg, nil
}

// parser holds what one Parse call has learned so far.
type parser struct {
	file    string
	probs   []problem
	keyAt   map[int]string      // line → dotted key of the value there; "" if several
	done    map[*yaml.Node]bool // anchored nodes already walked
	secrets []string            // password values, kept out of messages
}

type problem struct {
	line int
	msg  string
}

func newParser(path string) *parser {
	file := path
	if file == "" {
		file = "config"
	}
	return &parser{file: file, keyAt: map[int]string{}, done: map[*yaml.Node]bool{}}
}

func (p *parser) addf(line int, format string, args ...any) {
	p.probs = append(p.probs, problem{line, fmt.Sprintf(format, args...)})
}

// err returns every problem, ordered by line, or nil.
func (p *parser) err() error {
	slices.SortStableFunc(p.probs, func(a, b problem) int { return cmp.Compare(a.line, b.line) })
	errs := make([]error, len(p.probs))
	for i, pr := range p.probs {
		where := p.file
		if pr.line > 0 {
			where = fmt.Sprintf("%s:%d", p.file, pr.line)
		}
		errs[i] = fmt.Errorf("%s: %s", where, pr.msg)
	}
	return errors.Join(errs...)
}

// document parses data into its root node. The root is nil for a file
// without content; ok is false when there is nothing worth checking further.
func (p *parser) document(data []byte) (root *yaml.Node, ok bool) {
	dec := yaml.NewDecoder(bytes.NewReader(data))
	var doc, next yaml.Node
	if err := dec.Decode(&doc); err != nil {
		if err != io.EOF {
			line, msg := splitLine(yamlMessage(err))
			p.addf(line, "%s", msg)
		}
		return nil, err == io.EOF
	}
	switch err := dec.Decode(&next); {
	case err == io.EOF:
		return p.root(&doc)
	case err != nil:
		line, msg := splitLine(yamlMessage(err))
		p.addf(line, "%s", msg)
	default:
		p.addf(next.Line, "more than one YAML document (a line \"---\" starts another); put everything in one")
	}
	return nil, false
}

// root returns the document's top-level mapping.
func (p *parser) root(doc *yaml.Node) (*yaml.Node, bool) {
	if len(doc.Content) != 1 || doc.Content[0].ShortTag() == "!!null" {
		return nil, true
	}
	root := doc.Content[0]
	if root.Kind != yaml.MappingNode {
		p.addf(root.Line, "the file must be a mapping of keys (archive, accounts, agent)")
		return nil, false
	}
	return root, true
}

// decode fills cfg from root and returns the sections that later messages
// refer to: the top level and one per account.
func (p *parser) decode(root *yaml.Node, cfg *Config) (*section, []*section) {
	top := p.newSection("", 0)
	if root == nil {
		return top, nil
	}
	p.collectSecrets(root)
	p.walk(root, layoutType, top, "")
	var l fileLayout
	p.decodeError(root.Decode(&l), top)
	cfg.Archive, cfg.StateDir, cfg.Agent, cfg.Serve = l.Archive, l.StateDir, l.Agent, l.Serve
	items := accountNodes(&l.Accounts, top)
	cfg.Accounts = make([]Account, len(items))
	sections := make([]*section, len(items))
	for i, n := range items {
		sections[i] = p.decodeAccount(n, i, &cfg.Accounts[i])
	}
	return top, sections
}

// accountNodes returns the items of the accounts list.
func accountNodes(n *yaml.Node, top *section) []*yaml.Node {
	n = resolve(n)
	switch {
	case n.Kind == 0 || n.ShortTag() == "!!null":
		return nil
	case n.Kind != yaml.SequenceNode:
		top.errorf("accounts", "accounts: want a list of accounts, got %s", nodeWords(n))
		top.broken["accounts"] = true
		return nil
	}
	return n.Content
}

// decodeAccount decodes account number i from n. An item that is not a
// mapping gets one message and no further checks.
func (p *parser) decodeAccount(n *yaml.Node, i int, a *Account) *section {
	err := n.Decode(a)
	a.Line = n.Line
	s := p.newSection(accountLabel(i, cmp.Or(a.Name, nameIn(n))), n.Line)
	p.walk(n, accountType, s, "")
	p.decodeError(err, s)
	if resolve(n).Kind != yaml.MappingNode {
		if err == nil {
			s.errorf("", "empty account")
		}
		s.skip = true
	}
	return s
}

// nameIn returns the name written in an account's mapping, for labelling
// an account that did not decode.
func nameIn(n *yaml.Node) string {
	n = resolve(n)
	for i := 0; i+1 < len(n.Content) && n.Kind == yaml.MappingNode; i += 2 {
		if k, v := n.Content[i], n.Content[i+1]; k.Value == "name" && v.Kind == yaml.ScalarNode {
			return v.Value
		}
	}
	return ""
}

func accountLabel(i int, name string) string {
	if name == "" {
		return fmt.Sprintf("account #%d", i+1)
	}
	return fmt.Sprintf("account %q", name)
}

// collectSecrets notes every password value in the tree, so that messages
// quoting a value (yaml.v3's do) can be scrubbed.
func (p *parser) collectSecrets(n *yaml.Node) {
	if n.Kind == yaml.MappingNode {
		for i := 0; i+1 < len(n.Content); i += 2 {
			k, v := n.Content[i], resolve(n.Content[i+1])
			if k.Value == "password" && v.Kind == yaml.ScalarNode && v.Value != "" {
				p.secrets = append(p.secrets, v.Value)
			}
		}
	}
	for _, c := range n.Content {
		p.collectSecrets(c)
	}
}
