package flow_test

import (
	"context"
	"reflect"
	"strings"
	"testing"

	"github.com/flowbot/flowbot/flow"
)

func TestNormalizeTags(t *testing.T) {
	long := strings.Repeat("a", flow.MaxTagLen)
	for _, tc := range []struct {
		in   []string
		want []string
	}{
		{[]string{"vip"}, []string{"vip"}},
		{[]string{"VIP Customer", "  order problem!! "}, []string{"vip_customer", "order_problem"}},
		{[]string{"tier:gold", "a-b_c"}, []string{"tier:gold", "a-b_c"}},
		{[]string{"", "  ", "!!!", "vip", "VIP"}, []string{"vip"}},
		{[]string{"Ünïcode Café", "СЛУЖБА поддержки"}, []string{"ünïcode_café", "служба_поддержки"}},
		{[]string{strings.Repeat("é", flow.MaxTagLen+5)}, []string{strings.Repeat("é", flow.MaxTagLen)}},
		{[]string{long + "b"}, []string{long}},
		{[]string{strings.Repeat("a", flow.MaxTagLen-1) + " b"}, []string{strings.Repeat("a", flow.MaxTagLen-1)}},
		{[]string{"a", "b", "c", "d", "e", "f", "g", "h", "i", "j", "k"}, []string{"a", "b", "c", "d", "e", "f", "g", "h", "i", "j"}},
	} {
		if got := flow.NormalizeTags(tc.in); !reflect.DeepEqual(got, tc.want) {
			t.Errorf("NormalizeTags(%q) = %q, want %q", tc.in, got, tc.want)
		}
	}
}

// TestEngine_TransferRouting: a transfer's group, priority and tags are
// filled from variables and logged as the help desk gets them.
func TestEngine_TransferRouting(t *testing.T) {
	c := mustFlow(t, `{"start":"a","steps":[
		{"id":"a","type":"ask","text":"Tier?","variable":"tier","next":"t"},
		{"id":"t","type":"transfer","text":"A person will help.","reason":"asked",
		 "group":"  {{tier}} support  ","priority":"{{tier}}","tags":["bot","Tier {{tier}}","{{missing}}"]}]}`)
	for _, tc := range []struct {
		tier string
		want map[string]string
	}{
		{"urgent", map[string]string{"reason": "asked", "group": "urgent support", "priority": "urgent", "tags": "bot,tier_urgent"}},
		{"Gold", map[string]string{"reason": "asked", "group": "Gold support", "priority_ignored": "gold", "tags": "bot,tier_gold"}},
		{strings.Repeat("é", 300), nil},
	} {
		conv := &flow.Conversation{}
		newEngine().Start(context.Background(), c, conv)
		tr, err := newEngine().Reply(context.Background(), c, conv, flow.Input{Text: tc.tier})
		if err != nil || conv.Status != flow.StatusTransferred {
			t.Fatalf("%s: %v, status %s", tc.tier, err, conv.Status)
		}
		got := tr.Log[len(tr.Log)-1].Detail
		if tc.want == nil {
			// The group is cut to 200 characters, not bytes.
			if g := []rune(got["group"]); len(g) != flow.MaxGroupLen {
				t.Errorf("long group has %d characters, want %d", len(g), flow.MaxGroupLen)
			}
			continue
		}
		if !reflect.DeepEqual(got, tc.want) {
			t.Errorf("tier %s: detail %v, want %v", tc.tier, got, tc.want)
		}
	}
	// A transfer with nothing to tell logs no detail.
	c = mustFlow(t, `{"start":"t","steps":[{"id":"t","type":"transfer","text":"bye"}]}`)
	tr := newEngine().Start(context.Background(), c, &flow.Conversation{})
	if d := tr.Log[0].Detail; d != nil {
		t.Errorf("detail %v, want none", d)
	}
}
