package botstep

import (
	"fmt"
	"net/http"
	"strings"
	"testing"

	"github.com/flowbot/flowbot/flow"
)

// filterDoc is a customer as a help desk API answers it (the Kustomer
// seed's shape), with lists to filter.
const filterDoc = `{"data":{"attributes":{
	"emails":[{"email":"work@example.com","type":"work"},{"email":"jane@example.com","type":"home","verified":true}],
	"phones":[{"phone":"+12065551234","type":"home"}]}},
 "orders":[
	{"id":41,"status":"delivered","total":12.5,"tags":["gift"],"note":null},
	{"id":42,"status":"shipped","total":80,"tags":[],"eta":"2026-12-01"},
	{"id":"43","status":"pending","total":120.25,"items":[{"sku":"A","qty":2},{"sku":"B","qty":0}]}],
 "by_id":{"d":{"name":"fourth","rank":4},"b":{"name":"second","rank":2},"e":{"name":"fifth","rank":5},"a":{"name":"first","rank":1},"c":{"name":"third","rank":3}},
 "shops":{"z":{"m":[{"t":1,"n":"z"}]},"p":{"m":[{"t":1,"n":"p"}]},"q":{"m":[{"t":1,"n":"q"}]}},
 "big":[{"id":1234567890123456789,"s":"first"},{"id":1234567890123456790,"s":"second"}],
 "tree":{"list":[{"kids":[{"type":"home","v":"nested"}]},{"type":"home","v":"top"}]},
 "flags":[{"on":false,"n":"off"},{"on":true,"n":"on"}],
 "notes":[null,"second"],
 "pairs":[{"k":1,"v":null},{"k":2,"v":"two"}],
 "names":{"it's":[{"k":"v"}],"emoji":[{"k":"😀"}]}}`

// TestFilterSelects reads paths with filters from filterDoc: which
// element each keeps and what the rest of the path finds there.
func TestFilterSelects(t *testing.T) {
	data, err := parseJSONForTest(filterDoc)
	if err != nil {
		t.Fatal(err)
	}
	vars := exLookup(map[string]string{"order_id": "42", "order_text": "43", "kind": "home", "blank": " ",
		"big_id": "1234567890123456790", "flag": "true"})
	cases := []struct{ path, want string }{
		// The seed's case: the email of type home.
		{"$.data.attributes.emails[?(@.type == 'home')].email", "jane@example.com"},
		{`$.data.attributes.emails[?(@.type=="home")].email`, "jane@example.com"},
		{"$.data.attributes.emails[?@.type == 'work'].email", "work@example.com"},
		{"$.data.attributes.emails[?(@.type == 'Home')].email", ""}, // case counts, as in JSONPath
		{"$.data.attributes.emails[?(@.verified)].email", "jane@example.com"},
		{"$.data.attributes.emails[?(!@.verified)].email", "work@example.com"},
		{"$.data.attributes.emails[?(@.verified == true)].type", "home"},
		// Numbers: int64 and float64 answers, int and float literals.
		{"$.orders[?(@.id == 42)].status", "shipped"},
		{"$.orders[?(@.id == 42.0)].status", "shipped"},
		{"$.orders[?(@.total > 100)].status", "pending"},
		{"$.orders[?(@.total >= 80)].status", "shipped"},
		{"$.orders[?(@.total <= 12.5)].status", "delivered"},
		{"$.orders[?(@.total < 12.5)].status", ""},
		{"$.orders[?(@.total > 1e2)].id", "43"},
		{"$.orders[?(@.id == -1)].status", ""},
		// A text is not a number: "43" does not equal 43.
		{"$.orders[?(@.id == 43)].status", ""},
		{"$.orders[?(@.id == '43')].status", "pending"},
		{"$.orders[?(@.id > 'a')].status", ""}, // a number and a text do not order
		{"$.orders[?(@.status > 'p')].status", "shipped"},
		// Missing values and null.
		{"$.orders[?(@.note == null)].id", "41"},
		{"$.orders[?(@.eta != null)].id", "41"}, // 41 has no eta: missing is not null
		{"$.orders[?(@.eta)].id", "42"},
		{"$.orders[?(@.note)].id", "41"}, // null is there
		{"$.orders[?(@.missing == @.other)].id", "41"},
		{"$.orders[?(@.missing < 5)].id", ""},
		// && binds tighter than ||; ! and parentheses.
		{"$.orders[?(@.id == 1 || @.status == 'shipped' && @.total == 80)].id", "42"},
		{"$.orders[?((@.id == 41 || @.id == 42) && @.total > 50)].id", "42"},
		{"$.orders[?(!(@.id == 41) && !(@.status == 'shipped'))].id", "43"},
		// Paths below @: indexes, quoted names, whole values.
		{"$.orders[?(@.tags[0] == 'gift')].id", "41"},
		{"$.orders[?(@.tags[-1] == 'gift')].id", "41"},
		{"$.orders[?(@['status'] == 'pending')].id", "43"},
		{"$.orders[?(@.tags == @.tags)].id", "43"}, // a list equals nothing, not even itself; 43 has none (missing equals missing)
		{"$.orders[?(@.tags != @.tags)].id", "41"},
		{"$.orders[?(@.missing <= @.other)].id", "41"}, // missing equals missing, so <= holds
		{"$.orders[*].tags[?(@ == 'gift')]", "gift"},
		// Filters over an object's values, by key order.
		{"$.by_id[?(@.rank > 0)].name", "first"},
		{"$.by_id[?(@.rank > 1)].name", "second"},
		{"$.by_id[?(@.rank == 4)].name", "fourth"},
		// A wildcard over an object before a filter goes by key order too.
		{"$.shops.*.m[?(@.t == 1)].n", "p"},
		{"$.shops[*].m[?(@.t == 1)].n", "p"},
		{"$..m[?(@.t == 1)].n", "p"},
		// Two filters, and a filter after a descent.
		{"$.orders[?(@.items)].items[?(@.qty == 0)].sku", "B"},
		{"$..[?(@.type == 'home')].phone", "+12065551234"},
		{"$..[?(@.sku == 'A')].qty", "2"},
		// After a descent a value's children are tested before its
		// descendants' (RFC 9535's order): the top-level match first.
		{"$.tree..[?(@.type == 'home')].v", "top"},
		{"$.tree..v", "nested"}, // each value is visited before the next sibling's subtree: kids[0].v comes before list[1].v
		// The first match is saved even when it is null: nothing, not the
		// next element's value.
		{"$.notes[*]", ""},
		{"$.notes[1]", "second"},
		{"$.pairs[?(@.k > 0)].v", ""},
		{"$.pairs[?(@.k > 1)].v", "two"},
		{"$.orders[?(@.id == 41)]..[?(@ == 'gift')]", "gift"},
		// The rest of the path may be anything, or nothing.
		{"$.orders[?(@.id == 42)]", `{"eta":"2026-12-01","id":42,"status":"shipped","tags":[],"total":80}`},
		{"$.orders[?(@.id == 41)].tags[*]", "gift"},
		// {{variables}}: a variable's text equals a number that reads the same.
		{"$.orders[?(@.id == '{{order_id}}')].status", "shipped"},
		{"$.orders[?(@.id == {{order_id}})].status", "shipped"},
		{"$.orders[?(@.id == '{{order_text}}')].status", "pending"},
		{"$.orders[?(@.id > {{order_id}})].status", "pending"}, // "43" is a text in the answer: texts order as texts
		{"$.orders[?(@.total > {{order_id}})].status", "shipped"},
		{"$.data.attributes.emails[?(@.type == '{{kind}}')].email", "jane@example.com"},
		{"$.orders[?(@.id == '{{nope}}')].status", ""},
		{"$.orders[?(@.id == '{{blank}}')].status", ""},
		// Integers past 2^53 compare exactly, with a variable too.
		{"$.big[?(@.id == '{{big_id}}')].s", "second"},
		{"$.big[?(@.id == 1234567890123456790)].s", "second"},
		{"$.big[?(@.id < {{big_id}})].s", "first"},
		// A variable's "true" equals true.
		{"$.flags[?(@.on == {{flag}})].n", "on"},
		{"$.flags[?(@.on == '{{flag}}')].n", "on"},
		{"$.flags[?(@.on == 'true')].n", ""}, // a text typed in the path is a text
		// Quoted texts with escapes.
		{`$.names['it\'s'][?(@.k == '\u0076')].k`, "v"},
		{`$.names.emoji[?(@.k == '\uD83D\uDE00')].k`, "😀"},
		{`$.orders[?(@.status == "sh\"ipped")].id`, ""},
		{`$.orders[?(@.status == 'shipped\\')].id`, ""},
	}
	for _, tc := range cases {
		t.Run(tc.path, func(t *testing.T) {
			rp, err := ParseResponsePath(tc.path)
			if err != nil {
				t.Fatal(err)
			}
			got := ""
			if v := firstFiltered(rp.Expr, rp.Filters, data, vars); v != nil {
				got = textOf(v)
			}
			if got != tc.want {
				t.Errorf("got %q, want %q", got, tc.want)
			}
		})
	}
}

// TestFilterRefused: a filter outside the subset is refused with what is
// wrong in it, when the step is validated.
func TestFilterRefused(t *testing.T) {
	for _, tc := range []struct{ filter, msg string }{
		{"@.a in [1,2]", `unexpected "in [1,2]"; a filter compares @ paths with ==, !=, <, <=, > or >=, joined by &&, || and !, with parentheses`},
		{"@.a =~ /x/", `unexpected "=~ /x/"; a filter compares @ paths with ==, !=, <, <=, > or >=, joined by &&, || and !, with parentheses`},
		{"length(@.a) > 2", "functions (length()) are not supported in a filter"},
		{"@.a == $.b", "$ cannot be used in a filter: compare @ (the element) with a value or a {{variable}}"},
		{"'a' == 'b'", "a comparison needs @ on one side"},
		{"1", "a value alone is no test; compare it with @ (@.name == 'x')"},
		{"@.a ==", "a value is missing at the end"},
		{"(@.a == 1", "a ( in a filter is not closed"},
		{"(@.a == 1))", "unexpected \")\""},
		{"@.a == 'x", "a quoted text in a filter is not closed"},
		{"@.* == 1", "after @. comes a name (@.type)"},
		{"@[x] == 1", "inside a filter, @[...] takes an index (@[0]) or a quoted name (@['a b'])"},
		{"@.a == 1e999", `"1e999" is not a number`},
		{"@.a == 'bad \\q'", `unknown escape \q`},
		{"@.a == '\\u12'", `a \u escape needs four hex digits`},
		{"@.a == {{x", "a {{ is not closed with }}"},
		{"!= 1", "!= needs a value on its left"},
		{strings.Repeat("!", 33) + "@.a", "parentheses and ! nest more than 32 deep"},
		{"", "a value is missing at the end"},
		{"(@.b == true1)", `unexpected "1)"`},
		{"@.a == 01", `"01" is not a number`},
		{"@.a == 1.", `"1." is not a number`},
	} {
		t.Run(tc.filter, func(t *testing.T) {
			path := "$.a[?" + tc.filter + "]"
			_, err := ParseResponsePath(path)
			if err == nil {
				t.Fatal("accepted")
			}
			if !strings.Contains(err.Error(), tc.msg) {
				t.Errorf("error %q does not say %q", err, tc.msg)
			}
		})
	}
	// A quoted name that spells a filter's stand-in (\u0000 decoded by
	// jp) is refused, not taken for a filter.
	for _, path := range []string{`$['\u0000filter0']`, `$['\u0000filter0'][?(@.a)]`, `$.a[?(@.x == 1)]['\u0000filter0']`, `$['\u0000filter00']`, `$['a\u0000']`} {
		if _, err := ParseResponsePath(path); err == nil || !strings.Contains(err.Error(), "NUL") {
			t.Errorf("%s: %v; want refused for its NUL", path, err)
		}
		if err := checkJSONPath(path); err == nil {
			t.Errorf("%s accepted as a label_path", path)
		}
	}
	// A tab before ? still makes a filter.
	if rp, err := ParseResponsePath("$.a[\t?(@.b)]"); err != nil || len(rp.Filters) != 1 {
		t.Errorf("[\\t?: %+v, %v", rp, err)
	}
	// 8 tests pass, 9 do not.
	eight := strings.TrimSuffix(strings.Repeat("@.a == 1 || ", 8), " || ")
	if _, err := ParseResponsePath("$.a[?(" + eight + ")]"); err != nil {
		t.Errorf("8 tests refused: %v", err)
	}
	if _, err := ParseResponsePath("$.a[?(" + eight + " && @.b)]"); err == nil || !strings.Contains(err.Error(), "it has 9 tests; the limit is 8") {
		t.Errorf("9 tests: %v", err)
	}
	// 32 levels of ! are the edge that passes.
	if _, err := ParseResponsePath("$.a[?" + strings.Repeat("!", 32) + "@.a]"); err != nil {
		t.Errorf("32 levels refused: %v", err)
	}
}

// TestFilterAllocations: testing a list's elements allocates nothing per
// element, so a filter's cost grows with the answer only as reading it
// does (jp's own filters allocate about a kilobyte per element).
func TestFilterAllocations(t *testing.T) {
	rp, err := ParseResponsePath("$.items[?(@.id == '{{want}}' && @.tags[0] != 'x')].name")
	if err != nil {
		t.Fatal(err)
	}
	// A long variable (an ask step takes 4,096 characters) is read as a
	// number once per call, not once per element.
	vars := exLookup(map[string]string{"want": strings.Repeat("9", 4096)})
	allocs := func(n int) float64 {
		items := make([]any, n)
		for i := range items {
			items[i] = map[string]any{"id": int64(i), "name": fmt.Sprint("item ", i), "tags": []any{"a"}}
		}
		data := map[string]any{"items": items}
		return testing.AllocsPerRun(20, func() {
			if v := firstFiltered(rp.Expr, rp.Filters, data, vars); v != nil {
				t.Fatalf("found %v", v)
			}
		})
	}
	small, large := allocs(10), allocs(10_000)
	if large != small || large > 10 {
		t.Errorf("allocations: %v for 10 elements, %v for 10,000", small, large)
	}
}

// TestExecuteFilterVariables: an api_call saves values picked by filters
// from a real answer, one of them by a conversation variable, and a
// success test may use a filter too.
func TestExecuteFilterVariables(t *testing.T) {
	t.Parallel()
	e := newExEnv(t, exOptions{handlers: map[string]http.HandlerFunc{exAPIHost: jsonAnswer(200, filterDoc)}})
	s := exStep("GET", "https://"+exAPIHost+"/customers/1", withVars(
		"home_email", "$.data.attributes.emails[?(@.type == 'home')].email",
		"order_status", "$.orders[?(@.id == '{{order_id}}')].status",
		"nothing", "$.orders[?(@.id == 99)].status",
	))
	s.SuccessWhen = []flow.SuccessCondition{{Path: "$.orders[?(@.id == {{order_id}})].eta", Op: flow.OpEquals, Value: "2026-12-01"}}
	o := e.run(t, s, map[string]string{"order_id": "42"})
	if !o.Success {
		t.Fatalf("failure: %s %s", o.ErrorCode, o.ErrorMessage)
	}
	want := map[string]string{"home_email": "jane@example.com", "order_status": "shipped"}
	if fmt.Sprint(o.Saved) != fmt.Sprint(want) {
		t.Errorf("saved %v, want %v", o.Saved, want)
	}
	// Another order: the success test's filter finds no eta there.
	o = e.run(t, s, map[string]string{"order_id": "41"})
	if o.Success || o.ErrorCode != ErrCodeSuccessCondition || o.Saved["order_status"] != "delivered" {
		t.Errorf("order 41: success %v, %s %q, saved %v", o.Success, o.ErrorCode, o.ErrorMessage, o.Saved)
	}
}

// BenchmarkFilterLargeAnswer reads a filtered path from a list of 20,000
// orders (about 1 MiB of JSON), matching the last one.
func BenchmarkFilterLargeAnswer(b *testing.B) {
	var sb strings.Builder
	sb.WriteString(`{"orders":[`)
	for i := range 20_000 {
		if i > 0 {
			sb.WriteByte(',')
		}
		fmt.Fprintf(&sb, `{"id":%d,"status":"shipped","customer":{"name":"customer %d","tier":"gold"},"lines":[1,2,3]}`, i, i)
	}
	sb.WriteString(`]}`)
	data, err := parseJSONForTest(sb.String())
	if err != nil {
		b.Fatal(err)
	}
	rp, err := ParseResponsePath("$.orders[?(@.customer.tier == 'gold' && @.id == {{id}})].customer.name")
	if err != nil {
		b.Fatal(err)
	}
	vars := exLookup(map[string]string{"id": "19999"})
	b.SetBytes(int64(sb.Len()))
	b.ReportAllocs()
	for b.Loop() {
		if v := firstFiltered(rp.Expr, rp.Filters, data, vars); v != "customer 19999" {
			b.Fatalf("got %v", v)
		}
	}
}

// TestValidateFilterReadsVariables: a filter's {{variables}} count as
// read, in a variable's path and in a success test's, so a typo there is
// warned about like anywhere else, and a set one is not.
func TestValidateFilterReadsVariables(t *testing.T) {
	f := &flow.Flow{Start: "ask", Steps: []flow.Step{
		{ID: "ask", Type: flow.TypeAsk, Text: "Order?", Variable: "order_id", Next: "call"},
		{ID: "call", Type: flow.TypeAPICall, APICall: flow.APICall{Method: "GET", URL: "https://api.example.com/orders",
			OnSuccess: "end", OnFailure: "end",
			Variables: []flow.ResponseVariable{
				{Name: "status", Path: "$.orders[?(@.id == '{{order_idd}}')].status"},
				{Name: "eta", Path: "$.orders[?(@.id == '{{order_id}}')].eta"},
			},
			SuccessWhen: []flow.SuccessCondition{{Path: "$.orders[?(@.id == {{ordr_id}})]", Op: flow.OpExists}}}},
		{ID: "end", Type: flow.TypeEnd},
	}}
	var got []string
	for _, p := range Validate(f, nil) {
		got = append(got, p.Pointer+" "+p.Code+" "+p.Message)
	}
	all := strings.Join(got, "|")
	for _, want := range []string{
		"/steps/1/variables/0/path variable_never_set no step of this flow sets {{order_idd}}",
		"/steps/1/success_when/0/path variable_never_set no step of this flow sets {{ordr_id}}",
	} {
		if !strings.Contains(all, want) {
			t.Errorf("no %q in %v", want, got)
		}
	}
	if strings.Contains(all, "/variables/1/path") {
		t.Errorf("a set variable warned about: %v", got)
	}
}

// BenchmarkFilterWholeSubtrees is the review's costliest path, cut to the
// limit of 8 tests: tests comparing a list with another, after a descent,
// over a 1 MiB answer nested 62 levels deep, each level a list of ~8,400
// zeros beside the next level. Lists equal nothing in a filter, so each
// test is a type check, not a walk of both subtrees (24 such tests took
// minutes before).
func BenchmarkFilterWholeSubtrees(b *testing.B) {
	pad := strings.TrimSuffix(strings.Repeat("0,", 8400), ",")
	doc := "0"
	for range 62 {
		doc = "[[" + pad + "]," + doc + "]"
	}
	data, err := parseJSONForTest(doc)
	if err != nil {
		b.Fatal(err)
	}
	test := strings.TrimSuffix(strings.Repeat("@==@[1]||", maxFilterTests), "||")
	rp, err := ParseResponsePath("$..[?(" + test + ")]")
	if err != nil {
		b.Fatal(err)
	}
	b.SetBytes(int64(len(doc)))
	for b.Loop() {
		if v := firstFiltered(rp.Expr, rp.Filters, data, nil); v != nil {
			b.Fatalf("found %v", v)
		}
	}
}

// FuzzResponsePath: no path, accepted or not, makes parsing or reading
// it from an answer panic.
func FuzzResponsePath(f *testing.F) {
	for _, p := range []string{
		"$.data.attributes.emails[?(@.type == 'home')].email", "$..[?(@.sku == 'A')].qty", "$.orders[?(@.id == '{{order_id}}')]",
		"$['\\u0000filter0']", "$.a[?(!(@.x == 1) || @['b c'][0] != null)]", "$.a[ ?@.b]", "$[0,-1]..id", "$.a[1:3][?(@)]",
		"$.w.*.m[?(@.t == 1)].n", "$.a[?(@.k == '\\uD83D\\uDE00')]", "$..*", "$.x[?(@ == @[1] || @.a <= @.b)]",
	} {
		f.Add(p)
	}
	data, err := parseJSONForTest(filterDoc)
	if err != nil {
		f.Fatal(err)
	}
	vars := exLookup(map[string]string{"order_id": "42"})
	f.Fuzz(func(t *testing.T, path string) {
		rp, err := ParseResponsePath(path)
		_ = checkJSONPath(path)
		if err == nil && rp.Expr != nil {
			firstFiltered(rp.Expr, rp.Filters, data, vars)
		}
	})
}

// TestKeyField: the field a test call's filter paths pick a list's
// elements by: only a name that says what an element is (type before
// name), a text in every element, a different one in each, that a filter
// can quote as it is.
func TestKeyField(t *testing.T) {
	for _, tc := range []struct{ name, list, want string }{
		{"TypeBeforeName", `[{"name":"a","type":"home"},{"name":"b","type":"work"}]`, "type"},
		{"NameWhenTypesRepeat", `[{"name":"a","type":"home"},{"name":"b","type":"home"}]`, "name"},
		{"NotAnIDOrEmailOrDate", `[{"id":"1","email":"a@x","created_at":"2024-01-01","zone":"x"},{"id":"2","email":"b@x","created_at":"2024-01-02","zone":"y"}]`, ""},
		{"NotANumber", `[{"type":1},{"type":2}]`, ""},
		{"MissingInOne", `[{"type":"a"},{"other":"b"}]`, ""},
		{"Empty", `[{"type":""},{"type":"b"}]`, ""},
		{"NotObjects", `["a","b"]`, ""},
		{"MixedElements", `[{"type":"a"},"b"]`, ""},
		{"OneElement", `[{"type":"home"}]`, "type"},
		{"NoList", `[]`, ""},
		// Every element counts, not only the three the list shows.
		{"DuplicateInTheFourth", `[{"type":"a"},{"type":"b"},{"type":"c"},{"type":"a"}]`, ""},
		{"MissingInTheFifth", `[{"type":"a"},{"type":"b"},{"type":"c"},{"type":"d"},{}]`, ""},
		// A value a filter would not read as written.
		{"Template", `[{"type":"zzz"},{"type":"{{order_number}}"}]`, ""},
		{"ControlCharacter", `[{"type":"a\nb"},{"type":"c"}]`, ""},
		{"NUL", `[{"type":"a\u0000"},{"type":"c"}]`, ""},
		{"LaterNameWhenTypeCannotBeQuoted", `[{"type":"{{x}}","code":"A"},{"type":"y","code":"B"}]`, "code"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			v, err := parseJSONForTest(tc.list)
			if err != nil {
				t.Fatal(err)
			}
			if got := keyField(v.([]any)); got != tc.want {
				t.Errorf("keyField = %q, want %q", got, tc.want)
			}
		})
	}
}

// TestPathsOfFilterPaths: a value inside a list's element gets a filter
// path too, which reads the same value (quotes in the key escaped); none
// is offered past the 256-character path limit.
func TestPathsOfFilterPaths(t *testing.T) {
	long := strings.Repeat("w", 240)
	accents := strings.Repeat("é", 220) // 440 bytes, but the path is 255 characters
	doc := `{"emails":[{"type":"work","email":"w@example.com"},{"type":"home","email":"h@example.com"}],
		"people":[{"name":"O'Brien","tags":[{"type":"vip"}]},{"name":"A\\B","tags":[]}],
		"long":[{"type":"` + long + `","v":1},{"type":"x","v":2}],
		"accents":[{"type":"` + accents + `","v":1},{"type":"y","v":2}]}`
	data, err := parseJSONForTest(doc)
	if err != nil {
		t.Fatal(err)
	}
	got := map[string]string{}
	for _, p := range pathsOf(data) {
		got[p.Path] = p.FilterPath
		if p.FilterPath == "" {
			continue
		}
		rp, err := ParseResponsePath(p.FilterPath)
		if err != nil {
			t.Errorf("%s: %v", p.FilterPath, err)
			continue
		}
		v := firstFiltered(rp.Expr, rp.Filters, data, nil)
		if cut, ok := strings.CutSuffix(p.Sample, "…"); v == nil || ok && !strings.HasPrefix(textOf(v), cut) || !ok && textOf(v) != p.Sample {
			t.Errorf("%s reads %v; want %q, as %s does", p.FilterPath, v, p.Sample, p.Path)
		}
	}
	for path, want := range map[string]string{
		"$.emails":                 "",
		"$.emails[1].email":        `$.emails[?(@.type == 'home')].email`,
		"$.people[0].tags[0].type": `$.people[?(@.name == 'O\'Brien')].tags[?(@.type == 'vip')].type`,
		"$.people[1].name":         `$.people[?(@.name == 'A\\B')].name`,
		"$.long[0].v":              "", // over 256 characters
		"$.long[1].v":              `$.long[?(@.type == 'x')].v`,
		"$.accents[0].v":           `$.accents[?(@.type == '` + accents + `')].v`,
	} {
		if got[path] != want {
			t.Errorf("%s: filter path %q, want %q", path, got[path], want)
		}
	}
}
