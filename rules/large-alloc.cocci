// R5: a large allocation that can run after startup must be checked and
// must not take the VM down. Rewrite the aborting allocator to its g_try_*
// counterpart and add a NULL check right after the statement (moved past
// any plain declarations that follow). The failure path comes from the
// enclosing function's convention (allocfix.site(p)): error_setg when it
// has an Error **errp, frees of what the function still owns, then the
// return value its other failures use or a jump to its cleanup label; a
// function that cannot report the failure gets a marked stub. With
// --startup-exit (R2), startup-only sites get error_report + exit.
//
// The check is `if (size && !p)` when the size can be zero: g_try_malloc(0)
// returns NULL without failing.
//
// Sites that are small (R3) or startup-only (R4) are left alone: the
// scripts drop them with cocci.include_match(False).

// --- only the allocator changes: `return alloc(...);` where NULL already
// is a failure value, or a NULL check the code already has -------------

@rn@
identifier alloc = {g_malloc, g_malloc0, g_malloc_n, g_malloc0_n, g_new, g_new0,
                    qemu_memalign, qemu_blockalign, qemu_blockalign0, blk_blockalign,
                    bitmap_new};
expression list ARGS;
position p;
@@
alloc@p(ARGS)

@script:python rn_plan@
p << rn.p;
checked;
@@
s = allocfix.site(p)
if s.fix != "rename":
    cocci.include_match(False)
else:
    coccinelle.checked = cocci.make_ident(s.checked)

@@
identifier rn.alloc;
expression list rn.ARGS;
position rn.p;
identifier rn_plan.checked;
@@
- alloc@p
+ checked
  (ARGS)

// --- `p = alloc(...);` and `T *p = alloc(...);` ---------------------------

@site@
identifier alloc = {g_malloc, g_malloc0, g_malloc_n, g_malloc0_n, g_new, g_new0,
                    qemu_memalign, qemu_blockalign, qemu_blockalign0, blk_blockalign,
                    bitmap_new, g_realloc, g_realloc_n, g_renew};
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
cond;
fail;
@@
s = allocfix.site(p)
if s.fix != "check":
    cocci.include_match(False)
else:
    coccinelle.checked = cocci.make_ident(s.checked)
    coccinelle.cond = cocci.make_expr(s.cond)
    coccinelle.fail = cocci.make_stmt(s.failure_block)

@fix@
identifier site.alloc;
expression site.E;
expression list site.ARGS;
position site.p;
type site.T;
identifier site.x;
identifier plan.checked;
expression plan.cond;
statement plan.fail;
@@
(
  E =
- alloc@p
+ checked
  (ARGS);
+ if (cond) fail
|
  T x =
- alloc@p
+ checked
  (ARGS);
+ if (cond) fail
)

// --- the same, restated whole: the statement spans lines, or the longer
// name needs it wrapped (the check then follows its first line's indent) --

@ml@
identifier alloc = {g_malloc, g_malloc0, g_malloc_n, g_malloc0_n, g_new, g_new0,
                    qemu_memalign, qemu_blockalign, qemu_blockalign0, blk_blockalign,
                    bitmap_new, g_realloc, g_realloc_n, g_renew};
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

@script:python ml_plan@
p << ml.p;
stmt;
cond;
fail;
@@
s = allocfix.site(p)
if s.fix != "restate":
    cocci.include_match(False)
else:
    coccinelle.stmt = cocci.make_stmt(s.statement)
    coccinelle.cond = cocci.make_expr(s.cond)
    coccinelle.fail = cocci.make_stmt(s.failure_block)

@ml_fix@
identifier ml.alloc;
expression ml.E;
expression list ml.ARGS;
position ml.p;
type ml.T;
identifier ml.x;
statement ml_plan.stmt;
expression ml_plan.cond;
statement ml_plan.fail;
@@
(
- E = alloc@p(ARGS);
+ stmt
+ if (cond) fail
|
- T x = alloc@p(ARGS);
+stmt
+
+if (cond) fail
)

// --- g_memdup2 has no checked form: g_try_malloc + memcpy -------------------

@dup@
expression E, S, N;
position p;
type T;
identifier x;
@@
(
E = g_memdup2@p(S, N);
|
T x = g_memdup2@p(S, N);
)

@script:python dup_plan@
p << dup.p;
cond;
fail;
@@
s = allocfix.site(p)
if s.fix != "memdup":
    cocci.include_match(False)
else:
    coccinelle.cond = cocci.make_expr(s.cond)
    coccinelle.fail = cocci.make_stmt(s.failure_block)

@dup_fix@
expression dup.E, dup.S, dup.N;
position dup.p;
type dup.T;
identifier dup.x;
expression dup_plan.cond;
statement dup_plan.fail;
@@
(
  E =
- g_memdup2@p(S, N);
+ g_try_malloc(N);
+ if (cond) fail
+ memcpy(E, S, N);
|
  T x =
- g_memdup2@p(S, N);
+ g_try_malloc(N);
+ if (cond) fail
+ memcpy(x, S, N);
)

// --- `p = g_realloc(p, n);`: through a temporary, so that on failure the
// old block is still in p (neither lost nor freed twice) ----------------

@re@
identifier ralloc = {g_realloc, g_realloc_n, g_renew};
expression E;
expression list ARGS;
position p;
@@
E = ralloc@p(ARGS);

@script:python re_plan@
p << re.p;
checked;
tmp;
cond;
fail;
fn;
tdecl;
@@
s = allocfix.site(p)
if s.fix != "realloc":
    cocci.include_match(False)
else:
    coccinelle.checked = cocci.make_ident(s.checked)
    coccinelle.tmp = cocci.make_ident(s.temp)
    coccinelle.cond = cocci.make_expr(s.cond)
    coccinelle.fail = cocci.make_stmt(s.failure_block)
    coccinelle.fn = cocci.make_ident(s.function)
    coccinelle.tdecl = cocci.make_stmt(s.temp_decl)

@re_fix@
identifier re.ralloc;
expression re.E;
expression list re.ARGS;
position re.p;
identifier re_plan.checked, re_plan.tmp;
expression re_plan.cond;
statement re_plan.fail;
@@
- E
+ tmp
  =
- ralloc@p
+ checked
  (ARGS);
+ if (cond) fail
+ E = tmp;

@depends on re_fix@
identifier re_plan.fn;
statement re_plan.tdecl;
type T;
@@
(
static T fn(...)
{
+ tdecl
  ...
}
|
static T *fn(...)
{
+ tdecl
  ...
}
|
static inline T fn(...)
{
+ tdecl
  ...
}
|
static inline T *fn(...)
{
+ tdecl
  ...
}
|
T fn(...)
{
+ tdecl
  ...
}
|
T *fn(...)
{
+ tdecl
  ...
}
)

// --- `return alloc(...);` ----------------------------------------------------

@ret@
identifier alloc = {g_malloc, g_malloc0, g_malloc_n, g_malloc0_n, g_new, g_new0,
                    qemu_memalign, qemu_blockalign, qemu_blockalign0, blk_blockalign,
                    bitmap_new};
expression list ARGS;
position p;
@@
return alloc@p(ARGS);

// Report (errp), clean up, then return through a temporary.
@script:python ret_plan@
p << ret.p;
checked;
tmp;
cond;
fail;
fn;
tdecl;
@@
s = allocfix.site(p)
if s.fix != "return":
    cocci.include_match(False)
else:
    coccinelle.checked = cocci.make_ident(s.checked)
    coccinelle.tmp = cocci.make_ident(s.temp)
    coccinelle.cond = cocci.make_expr(s.cond)
    coccinelle.fail = cocci.make_stmt(s.failure_block)
    coccinelle.fn = cocci.make_ident(s.function)
    coccinelle.tdecl = cocci.make_stmt(s.temp_decl)

@ret_fix@
identifier ret.alloc;
expression list ret.ARGS;
position ret.p;
identifier ret_plan.checked, ret_plan.tmp;
expression ret_plan.cond;
statement ret_plan.fail;
@@
- return alloc@p
+ tmp = checked
  (ARGS);
+ if (cond) fail
+ return tmp;

@depends on ret_fix@
identifier ret_plan.fn;
statement ret_plan.tdecl;
type T;
@@
(
static T fn(...)
{
+ tdecl
  ...
}
|
static T *fn(...)
{
+ tdecl
  ...
}
|
static inline T fn(...)
{
+ tdecl
  ...
}
|
static inline T *fn(...)
{
+ tdecl
  ...
}
|
T fn(...)
{
+ tdecl
  ...
}
|
T *fn(...)
{
+ tdecl
  ...
}
)

// --- `f(..., alloc(...), ...);`: hoisted into a temporary ------------------

@arg@
identifier alloc = {g_malloc, g_malloc0, g_malloc_n, g_malloc0_n, g_new, g_new0,
                    qemu_memalign, qemu_blockalign, qemu_blockalign0, blk_blockalign,
                    bitmap_new};
identifier f;
expression list A1, A2, ARGS;
position p;
@@
f(A1, alloc@p(ARGS), A2);

@script:python arg_plan@
p << arg.p;
checked;
tmp;
cond;
fail;
fn;
tdecl;
@@
s = allocfix.site(p)
if s.fix != "arg":
    cocci.include_match(False)
else:
    coccinelle.checked = cocci.make_ident(s.checked)
    coccinelle.tmp = cocci.make_ident(s.temp)
    coccinelle.cond = cocci.make_expr(s.cond)
    coccinelle.fail = cocci.make_stmt(s.failure_block)
    coccinelle.fn = cocci.make_ident(s.function)
    coccinelle.tdecl = cocci.make_stmt(s.temp_decl)

@arg_fix@
identifier arg.alloc, arg.f;
expression list arg.A1, arg.A2, arg.ARGS;
position arg.p;
identifier arg_plan.checked, arg_plan.tmp;
expression arg_plan.cond;
statement arg_plan.fail;
@@
+ tmp = checked(ARGS);
+ if (cond) fail
  f(A1,
- alloc@p(ARGS)
+ tmp
  , A2);

@depends on arg_fix@
identifier arg_plan.fn;
statement arg_plan.tdecl;
type T;
@@
(
static T fn(...)
{
+ tdecl
  ...
}
|
static T *fn(...)
{
+ tdecl
  ...
}
|
static inline T fn(...)
{
+ tdecl
  ...
}
|
static inline T *fn(...)
{
+ tdecl
  ...
}
|
T fn(...)
{
+ tdecl
  ...
}
|
T *fn(...)
{
+ tdecl
  ...
}
)

// --- `a = p = alloc(...);`: p is allocated and checked on its own, and a
// assigned only once p is known good: on failure a keeps what it held ----

@chain@
identifier alloc = {g_malloc, g_malloc0, g_malloc_n, g_malloc0_n, g_new, g_new0,
                    qemu_memalign, qemu_blockalign, qemu_blockalign0, blk_blockalign,
                    bitmap_new};
expression E1, E2;
expression list ARGS;
position p;
@@
E1 = E2 = alloc@p(ARGS);

@script:python chain_plan@
p << chain.p;
stmt;
cond;
fail;
@@
s = allocfix.site(p)
if s.fix != "chain":
    cocci.include_match(False)
else:
    coccinelle.stmt = cocci.make_stmt(s.statement)
    coccinelle.cond = cocci.make_expr(s.cond)
    coccinelle.fail = cocci.make_stmt(s.failure_block)

@chain_fix@
identifier chain.alloc;
expression chain.E1, chain.E2;
expression list chain.ARGS;
position chain.p;
statement chain_plan.stmt;
expression chain_plan.cond;
statement chain_plan.fail;
@@
- E1 = E2 = alloc@p(ARGS);
+ stmt
+ if (cond) fail
+ E1 = E2;

// --- headers the failure paths need -----------------------------------------

// error_setg needs qapi/error.h: add it after qemu/osdep.h where missing.
@uses_error_setg depends on fix || ml_fix || dup_fix || re_fix || ret_fix || arg_fix || chain_fix@
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

// error_report (--startup-exit) needs qemu/error-report.h.
@uses_error_report depends on fix || ml_fix || dup_fix || re_fix || ret_fix || arg_fix || chain_fix@
expression list EA;
@@
error_report(EA);

@has_report_header@
@@
#include "qemu/error-report.h"

@depends on uses_error_report && !has_report_header@
@@
#include "qemu/osdep.h"
+#include "qemu/error-report.h"
