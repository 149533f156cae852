# RUDP_CHECK_CFLAG(FLAG, [ACTION-IF-OK], [ACTION-IF-NOT], [EXTRA-FLAGS])
# Checks whether the C compiler accepts FLAG (compiling with EXTRA-FLAGS too,
# e.g. -Werror so that unknown warning options are rejected).
AC_DEFUN([RUDP_CHECK_CFLAG], [
  AS_VAR_PUSHDEF([rudp_var], [rudp_cv_cflag_$4_$1])
  AC_CACHE_CHECK([whether $CC accepts $1], [rudp_var], [
    rudp_save_cflags=$CFLAGS
    CFLAGS="$CFLAGS $4 $1"
    AC_COMPILE_IFELSE([AC_LANG_PROGRAM([], [])],
      [AS_VAR_SET([rudp_var], [yes])], [AS_VAR_SET([rudp_var], [no])])
    CFLAGS=$rudp_save_cflags])
  AS_VAR_IF([rudp_var], [yes], [m4_default([$2], :)], [m4_default([$3], :)])
  AS_VAR_POPDEF([rudp_var])
])
