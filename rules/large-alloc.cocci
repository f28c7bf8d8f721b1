// R5: a large allocation that can run after startup must be checked and
// must not take the VM down. Rewrite the aborting allocator to its g_try_*
// counterpart and add a NULL check right after the statement (moved past
// any plain declarations that follow). The failure path comes from the
// enclosing function's convention (allocfix.site(p)): error_setg when it
// has an Error **errp, then the return value its other failures use; a
// void function without errp gets a marked stub.
//
// Sites that are small (R3) or startup-only (R4) are left alone: the
// script drops them with cocci.include_match(False).

@site@
identifier alloc = {g_malloc, g_malloc0, g_new, g_new0};
expression E;
expression list ARGS;
position p;
type T;
identifier x;
@@
(
E = alloc@p(ARGS);
|
T x = alloc@p(ARGS);
)

@script:python plan@
p << site.p;
checked;
fail;
@@
s = allocfix.site(p)
if not s.needs_fix:
    cocci.include_match(False)
else:
    coccinelle.checked = cocci.make_ident(s.checked)
    coccinelle.fail = cocci.make_stmt(s.failure_block)

@fix@
identifier site.alloc;
expression site.E;
expression list site.ARGS;
position site.p;
type site.T;
identifier site.x;
identifier plan.checked;
statement plan.fail;
@@
(
  E =
- alloc@p
+ checked
  (ARGS);
+ if (!E) fail
|
  T x =
- alloc@p
+ checked
  (ARGS);
+ if (!x) fail
)

// error_setg needs qapi/error.h: add it after qemu/osdep.h where missing.
@uses_error_setg depends on fix@
expression list EA;
@@
error_setg(EA);

@has_error_header@
@@
#include "qapi/error.h"

@depends on uses_error_setg && !has_error_header@
@@
#include "qemu/osdep.h"
+#include "qapi/error.h"
