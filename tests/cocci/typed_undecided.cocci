// allocfix: fails because the type of `current_req()->hdr` needs the return type of a call, which allocfix does not infer (spatch does): unsupported, not a partial rewrite
@@
type T;
T v;
@@
-	(T *)&v
+	&v
