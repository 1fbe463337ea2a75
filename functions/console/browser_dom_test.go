//go:build browser

package console_test

import (
	"context"
	"encoding/json"
	"errors"
	"time"

	"github.com/chromedp/chromedp"
)

// stepTimeout bounds each step: the console answers a local API in
// milliseconds, so a step that takes seconds is stuck, and saying which
// step beats one timeout for the whole scenario.
const stepTimeout = 10 * time.Second

// domLib finds things the way a user does: a form by its accessible name,
// a control by the exact text of its visible <label>, a button by its
// text. Nothing here knows the page's ids or classes beyond what the
// console's DOM contract names (form names, labels, button texts,
// data-username and data-type rows, .stat, .mfa-secret, .recovery-codes).
const domLib = `
const norm = s => (s || '').replace(/\s+/g, ' ').trim();
const shown = el => !!el && el.getClientRects().length > 0 && getComputedStyle(el).visibility !== 'hidden';
const form = name => [...document.querySelectorAll('form')].find(f => f.getAttribute('aria-label') === name && shown(f)) || null;
const control = (formName, labelText) => {
  const f = formName === '' ? document : form(formName);
  if (!f) return null;
  const l = [...f.querySelectorAll('label')].find(l => norm(l.textContent) === labelText);
  return l ? l.control : null;
};
const button = (scope, text) => scope ? [...scope.querySelectorAll('button, input[type=submit]')]
  .find(b => shown(b) && !b.disabled && norm(b.textContent || b.value) === text) || null : null;
const link = (scope, text) => scope ? [...scope.querySelectorAll('a')].find(a => shown(a) && norm(a.textContent) === text) || null : null;
const row = username => document.querySelector('tr[data-username="' + CSS.escape(username) + '"]');
const dialog = () => [...document.querySelectorAll('dialog')].find(d => d.open) || null;
const heading = () => norm((([...document.querySelectorAll('h1')].find(shown)) || {}).textContent);
const said = role => [...document.querySelectorAll('[role=' + role + ']')].filter(shown).map(e => norm(e.textContent)).filter(s => s).join(' | ');
const text = scope => scope ? norm(scope.innerText) : '';
`

// js wraps expr (which may use domLib) so it runs as one expression.
func js(expr string) string {
	return "(() => {" + domLib + "\nreturn (" + expr + ");\n})()"
}

// q is s as a JavaScript string literal.
func q(s string) string {
	b, _ := json.Marshal(s)
	return string(b)
}

// Scopes for click and waitText: JavaScript expressions for an element.
const (
	whole    = "document.body"
	inDialog = "dialog()"
	inHeader = "document.querySelector('header')"
	inNav    = "document.querySelector('nav[aria-label=Main]')"
)

func inRow(username string) string { return "row(" + q(username) + ")" }
func inForm(name string) string    { return "form(" + q(name) + ")" }

// do runs actions as one step, failing the scenario with what the step
// was and what the page showed.
func (p *tab) do(what string, actions ...chromedp.Action[chromedp.Void]) {
	p.t.Helper()
	ctx, cancel := context.WithTimeout(p.ctx, stepTimeout)
	defer cancel()
	if err := chromedp.Do(ctx, actions...); err != nil {
		p.t.Fatalf("%s: %v\n%s", what, err, p.shows())
	}
}

// shows describes the page for a failure message: its address, heading,
// messages and the start of its text.
func (p *tab) shows() string {
	type view struct {
		URL, H1, Alert, Status, Text string
	}
	v, err := evalIn[view](p, js(`({URL: location.href, H1: heading(), Alert: said('alert'), Status: said('status'), Text: text(document.body).slice(0, 600)})`))
	if err != nil {
		return "(the page cannot be read: " + err.Error() + ")"
	}
	return "the page (" + v.URL + ") shows h1 " + q(v.H1) + ", alert " + q(v.Alert) + ", status " + q(v.Status) + ":\n" + v.Text
}

// evalIn evaluates a JavaScript expression in the tab.
func evalIn[T any](p *tab, expr string) (T, error) {
	ctx, cancel := context.WithTimeout(p.ctx, stepTimeout)
	defer cancel()
	return chromedp.Run(ctx, chromedp.Evaluate[T](expr, chromedp.EvalAwaitPromise))
}

// eval evaluates expr (with domLib), failing the scenario on an error.
func eval[T any](p *tab, expr string) T {
	p.t.Helper()
	v, err := evalIn[T](p, js(expr))
	if err != nil {
		p.t.Fatalf("evaluate %s: %v", expr, err)
	}
	return v
}

// wait polls expr (with domLib) until it is truthy, and returns it.
func wait[T any](p *tab, what, expr string) T {
	p.t.Helper()
	ctx, cancel := context.WithTimeout(p.ctx, stepTimeout)
	defer cancel()
	v, err := chromedp.Run(ctx, chromedp.Poll[T](js(expr),
		chromedp.WithPollingInterval(50*time.Millisecond), chromedp.WithPollingTimeout(stepTimeout-time.Second)))
	if err != nil {
		if errors.Is(err, chromedp.ErrPollingTimeout) {
			err = errors.New("not within " + (stepTimeout - time.Second).String())
		}
		p.t.Fatalf("wait for %s: %v\n%s", what, err, p.shows())
	}
	return v
}

// waitText waits until scope shows text (innerText: what is rendered).
func (p *tab) waitText(scope, text string) {
	p.t.Helper()
	wait[bool](p, q(text)+" in "+scope, "text("+scope+").includes("+q(text)+")")
}

// waitHeading waits for the view whose <h1> is title.
func (p *tab) waitHeading(title string) {
	p.t.Helper()
	wait[bool](p, "the view "+q(title), "heading() === "+q(title))
}

// answer clicks the button text in scope and waits for the role=alert or
// role=status message it causes, and returns it. Messages shown before
// the click are marked (an expando property, which the page cannot see
// in its DOM) so that a message left from the previous step, possibly
// with the same words, is not taken for this one's.
func (p *tab) answer(role, scope, text string) string {
	p.t.Helper()
	eval[bool](p, "([...document.querySelectorAll('[role=alert], [role=status]')].forEach(e => { e.authfnSeen = e.textContent; }), true)")
	p.click(scope, text)
	return wait[string](p, "a new role="+role+" message after "+q(text),
		"[...document.querySelectorAll('[role="+role+"]')].filter(e => shown(e) && e.authfnSeen !== e.textContent).map(e => norm(e.textContent)).filter(s => s).join(' | ')")
}

// field is the JSPath of the control that the label labels in the form
// (in the whole page when form is "").
func field(form, label string) chromedp.JSPath {
	return chromedp.JSPath(js("control(" + q(form) + ", " + q(label) + ")"))
}

// fill types value into the control labelled label in the form named
// form, replacing what it held.
func (p *tab) fill(form, label, value string) {
	p.t.Helper()
	ctl := "control(" + q(form) + ", " + q(label) + ")"
	// Emptied by script (chromedp's SetValue cannot set ""), then typed.
	wait[bool](p, "the field "+q(label)+" in the form "+q(form), "(c => !!c && (c.value = '', true))("+ctl+")")
	p.do("fill "+q(label)+" in the form "+q(form), chromedp.SendKeys(field(form, label), value))
}

// choose picks the option (by its text or value) of a <select>, and
// fires the events a user's pick fires.
func (p *tab) choose(form, label, option string) {
	p.t.Helper()
	wait[bool](p, "the select "+q(label)+" in "+q(form), "!!control("+q(form)+", "+q(label)+")")
	ok := eval[bool](p, `(() => {
  const s = control(`+q(form)+`, `+q(label)+`);
  const o = [...s.options].find(o => norm(o.textContent) === `+q(option)+` || o.value === `+q(option)+`);
  if (!o) return false;
  s.focus(); s.value = o.value;
  s.dispatchEvent(new Event('input', {bubbles: true}));
  s.dispatchEvent(new Event('change', {bubbles: true}));
  return true;
})()`)
	if !ok {
		p.t.Fatalf("the select %q in %q has no option %q\n%s", label, form, option, p.shows())
	}
}

// check sets a checkbox by clicking it when it is not as wanted.
func (p *tab) check(form, label string, want bool) {
	p.t.Helper()
	checked := wait[string](p, "the checkbox "+q(label)+" in "+q(form),
		"(c => c ? String(c.checked) : '')(control("+q(form)+", "+q(label)+"))")
	if (checked == "true") != want {
		p.do("click the checkbox "+q(label), chromedp.Click(field(form, label)))
	}
}

// click clicks (with the mouse) the visible, enabled button with text in
// scope.
func (p *tab) click(scope, text string) {
	p.t.Helper()
	wait[bool](p, "a visible, enabled button "+q(text)+" in "+scope, "!!button("+scope+", "+q(text)+")")
	p.do("click "+q(text)+" in "+scope, chromedp.Click(chromedp.JSPath(js("button("+scope+", "+q(text)+")"))))
}

// follow clicks the link with text in scope.
func (p *tab) follow(scope, text string) {
	p.t.Helper()
	wait[bool](p, "a visible link "+q(text)+" in "+scope, "!!link("+scope+", "+q(text)+")")
	p.do("follow the link "+q(text), chromedp.Click(chromedp.JSPath(js("link("+scope+", "+q(text)+")"))))
}

// keys types keys (kb.Tab, kb.Enter, text) into whatever has the focus.
func (p *tab) keys(keys string) {
	p.t.Helper()
	p.do("press "+q(keys), chromedp.KeyEvent(keys))
}
