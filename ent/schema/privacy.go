package schema

import (
	"context"

	"entgo.io/ent"
	"entgo.io/ent/entql"

	"github.com/storybot/storybot/ent/privacy"
	"github.com/storybot/storybot/internal/pulid"
	"github.com/storybot/storybot/internal/viewer"
)

// Privacy: every query and mutation of a user's data passes the policies
// below, so a resolver that forgets to scope a read cannot leak: another
// user's rows are simply not there (NOT_FOUND). The viewer comes from the
// context (internal/viewer), set once at the edge of each request.

// allowSystem lets storybot's own work (viewer.System) read and write
// every row.
var allowSystem = privacy.ContextQueryMutationRule(func(ctx context.Context) error {
	if viewer.IsSystem(ctx) {
		return privacy.Allow
	}
	return privacy.Skip
})

// denyAll refuses whatever allowSystem did not allow: rows that no client
// reads or writes directly (sessions, usage).
var denyAll = privacy.ContextQueryMutationRule(func(context.Context) error {
	return privacy.Denyf("only storybot itself reads or writes these rows")
})

// denyCreate refuses to create rows outside storybot's own work: accounts
// are made by the accounts service.
var denyCreate = privacy.MutationRuleFunc(func(_ context.Context, m ent.Mutation) error {
	if m.Op().Is(ent.OpCreate) {
		return privacy.Denyf("%s rows are created by storybot itself", m.Type())
	}
	return privacy.Skip
})

// nothing matches no row: IDs are never null.
var nothing = entql.FieldNil("id")

// ownRows filters a query, update or delete to the rows whose column holds
// the viewer's ID: without a viewer, to none.
func ownRows(column string) privacy.QueryMutationRule {
	return privacy.FilterFunc(func(ctx context.Context, f privacy.Filter) error {
		if uid := viewer.UserID(ctx); uid != "" {
			f.Where(entql.FieldEQ(column, uid))
		} else {
			f.Where(nothing)
		}
		return privacy.Skip
	})
}

// ownOrGranted filters a query to the viewer's own rows and to the rows
// that share tokens presented in the same operation grant (viewer.Grant):
// the shared stories, or their prompts.
func ownOrGranted(granted func(ctx context.Context) []pulid.ID) privacy.QueryRule {
	return privacy.FilterFunc(func(ctx context.Context, f privacy.Filter) error {
		var or []entql.P
		if uid := viewer.UserID(ctx); uid != "" {
			or = append(or, entql.FieldEQ("user_id", uid))
		}
		if ids := granted(ctx); len(ids) > 0 {
			args := make([]any, len(ids))
			for i, id := range ids {
				args[i] = id
			}
			or = append(or, entql.FieldIn("id", args...))
		}
		switch len(or) {
		case 0:
			f.Where(nothing)
		case 1:
			f.Where(or[0])
		default:
			f.Where(entql.Or(or[0], or[1]))
		}
		return privacy.Skip
	})
}

func grantedStories(ctx context.Context) []pulid.ID {
	stories, _ := viewer.Granted(ctx)
	return stories
}

func grantedPrompts(ctx context.Context) []pulid.ID {
	_, prompts := viewer.Granted(ctx)
	return prompts
}

// createOwn lets a viewer create rows only for themselves: it sets the
// owner when the mutation names none and refuses another owner.
var createOwn = privacy.MutationRuleFunc(func(ctx context.Context, m ent.Mutation) error {
	if !m.Op().Is(ent.OpCreate) {
		return privacy.Skip
	}
	uid := viewer.UserID(ctx)
	if uid == "" {
		return privacy.Denyf("creating %s needs a signed-in user", m.Type())
	}
	owner, ok := m.Field("user_id")
	if !ok {
		if err := m.SetField("user_id", uid); err != nil {
			return err
		}
		return privacy.Skip
	}
	if id, _ := owner.(pulid.ID); id != uid {
		return privacy.Denyf("%s belongs to another user", m.Type())
	}
	return privacy.Skip
})
