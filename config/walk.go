package config

import (
	"fmt"
	"reflect"
	"strings"

	"go.yaml.in/yaml/v3"
)

var (
	layoutType  = reflect.TypeFor[fileLayout]()
	accountType = reflect.TypeFor[Account]()
	nodeType    = reflect.TypeFor[yaml.Node]() // opaque to the walk
)

// walk checks the keys of mapping n against the yaml tags of struct t,
// reports the unknown ones, and notes the line of each known key under
// prefix+key. Nodes of the wrong kind are left to the decoder to report.
func (p *parser) walk(n *yaml.Node, t reflect.Type, s *section, prefix string) {
	n = p.follow(n)
	if n == nil || n.Kind != yaml.MappingNode {
		return
	}
	// Keys written in place win over merged ones, so they are noted first.
	for _, merges := range []bool{false, true} {
		for i := 0; i+1 < len(n.Content); i += 2 {
			if k := n.Content[i]; (k.ShortTag() == "!!merge") == merges {
				p.walkPair(k, n.Content[i+1], t, s, prefix)
			}
		}
	}
}

// follow resolves an alias. An anchored node is walked once only: that
// stops alias loops and exponential alias expansion, and reports a mistake
// inside it once.
func (p *parser) follow(n *yaml.Node) *yaml.Node {
	if n.Kind == yaml.AliasNode {
		n = n.Alias
	}
	if n == nil || n.Anchor == "" {
		return n
	}
	if p.done[n] {
		return nil
	}
	p.done[n] = true
	return n
}

func (p *parser) walkPair(k, v *yaml.Node, t reflect.Type, s *section, prefix string) {
	if k.ShortTag() == "!!merge" {
		p.walkMerge(v, t, s, prefix)
		return
	}
	ft, ok := fieldType(t, k.Value)
	if !ok || k.Kind != yaml.ScalarNode {
		p.unknownKey(k, t, s, prefix)
		return
	}
	key := prefix + k.Value
	if _, seen := s.lines[key]; !seen {
		s.lines[key] = k.Line
	}
	if ft == nodeType {
		return
	}
	if ft.Kind() == reflect.Pointer {
		ft = ft.Elem()
	}
	if ft.Kind() == reflect.Struct && resolve(v).Kind == yaml.MappingNode {
		p.walk(v, ft, s, key+".")
		return
	}
	if ft.Kind() == reflect.Slice && ft.Elem().Kind() == reflect.Struct && resolve(v).Kind == yaml.SequenceNode {
		p.walkItems(resolve(v), ft.Elem(), s, key)
		return
	}
	p.markValue(v, key, ft.Kind() == reflect.Slice)
}

// walkItems walks the mappings of a list of structs, each under the
// prefix key[i].
func (p *parser) walkItems(v *yaml.Node, t reflect.Type, s *section, key string) {
	p.markValue(v, key, true)
	for i, item := range v.Content {
		at := fmt.Sprintf("%s[%d]", key, i)
		s.lines[at] = resolve(item).Line
		p.walk(item, t, s, at+".")
	}
}

// walkMerge walks the mappings merged in by "<<: *anchor" or
// "<<: [*a, *b]" as if their keys were written in place.
func (p *parser) walkMerge(v *yaml.Node, t reflect.Type, s *section, prefix string) {
	if v.Kind != yaml.SequenceNode {
		p.walk(v, t, s, prefix)
		return
	}
	for _, m := range v.Content {
		p.walk(m, t, s, prefix)
	}
}

func resolve(n *yaml.Node) *yaml.Node {
	if n.Kind == yaml.AliasNode && n.Alias != nil {
		return n.Alias
	}
	return n
}

// markValue notes that the value of key sits on its line (and, for a list
// field, on the lines of its items), so a decoding message can name the key.
func (p *parser) markValue(v *yaml.Node, key string, list bool) {
	v = resolve(v)
	p.markLine(v.Line, key)
	if list && v.Kind == yaml.SequenceNode {
		for _, item := range v.Content {
			p.markLine(resolve(item).Line, key)
		}
	}
}

func (p *parser) markLine(line int, key string) {
	if old, ok := p.keyAt[line]; ok && old != key {
		key = ""
	}
	p.keyAt[line] = key
}

func (p *parser) unknownKey(k *yaml.Node, t reflect.Type, s *section, prefix string) {
	in := ""
	if s.label != "" {
		in = " in " + s.label
	}
	if k.Kind != yaml.ScalarNode {
		p.addf(k.Line, "a key must be a plain name%s", in)
		return
	}
	p.addf(k.Line, "unknown key %q%s%s", prefix+k.Value, in, suggest(k.Value, keyNames(t)))
}

// fieldType returns the type of the field of struct t tagged key.
func fieldType(t reflect.Type, key string) (reflect.Type, bool) {
	for f := range t.Fields() {
		if name := yamlName(f); name == key && name != "-" {
			return f.Type, true
		}
	}
	return nil, false
}

func yamlName(f reflect.StructField) string {
	name, _, _ := strings.Cut(f.Tag.Get("yaml"), ",")
	return name
}

// keyNames lists the keys that struct t accepts.
func keyNames(t reflect.Type) []string {
	var names []string
	for f := range t.Fields() {
		if name := yamlName(f); name != "-" && name != "" {
			names = append(names, name)
		}
	}
	return names
}
