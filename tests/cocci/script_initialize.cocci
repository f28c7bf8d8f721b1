@initialize:python@
@@
RENAMES = {"old_a": "new_a", "old_b": "new_b"}
seen = []

@r@
identifier fn;
@@
fn(...);

@script:python s@
fn << r.fn;
nn;
@@
if fn in RENAMES:
    seen.append(fn)
    coccinelle.nn = cocci.make_ident(RENAMES[fn])
else:
    cocci.include_match(False)

@@
identifier r.fn;
identifier s.nn;
@@
- fn(
+ nn(
  ...);

@finalize:python@
@@
assert len(seen) >= 0
