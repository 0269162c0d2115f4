/* test_text.c - text from mail made safe for a terminal: one line per
 * value, every control and escape visible, bodies keeping their lines,
 * and columns measured in terminal cells. */
#include <string.h>

#include "postdesk/text.h"
#include "testutil.h"

static void
test_a_line_stays_one_line (void)
{
  g_autofree char *s = pd_text_line ("Mallory\nRequester: ceo@example.com\r\n\tx");
  g_assert_cmpstr (s, ==, "Mallory\\x0aRequester: ceo@example.com\\x0d\\x0a x");
}

static void
test_escape_sequences_and_controls_are_visible (void)
{
  g_autofree char *esc = pd_text_line ("\033[31mred\033]0;title\007 \001\037\177");
  g_assert_cmpstr (esc, ==, "\\x1b[31mred\\x1b]0;title\\x07 \\x01\\x1f\\x7f");
  /* C1 controls (here CSI, U+009B), bidi overrides and isolates, and the
   * Unicode line separator. */
  g_autofree char *uni = pd_text_line ("a\302\233b \342\200\256exe.pdf \342\201\246x\342\201\251 \342\200\250");
  g_assert_cmpstr (uni, ==, "a\\u009bb \\u202eexe.pdf \\u2066x\\u2069 \\u2028");
}

static void
test_ordinary_text_is_untouched (void)
{
  const char *text = "Grüße aus Köln — 東京 \\ naïve <a@b.example>";
  g_autofree char *s = pd_text_line (text);
  g_assert_cmpstr (s, ==, text);
}

static void
test_bytes_that_are_not_utf8_show_as_bytes (void)
{
  static const char raw[] = "caf\351 \000\377\376 \342\202";
  g_autofree char *s = pd_text_block (raw, sizeof raw - 1);
  g_assert_cmpstr (s, ==, "caf\\xe9 \\x00\\xff\\xfe \\xe2\\x82");
}

static void
test_a_block_keeps_newlines_and_tabs_only (void)
{
  g_autofree char *s = pd_text_block ("one\r\ntwo\tcols\n\033[2Jthree\rfour", -1);
  g_assert_cmpstr (s, ==, "one\ntwo\tcols\n\\x1b[2Jthree\\x0dfour");
}

static void
test_short_forms_are_cut_with_an_ellipsis (void)
{
  g_autofree char *s = pd_text_short ("abcdefghij", 5);
  g_assert_cmpstr (s, ==, "abcd…");
  g_autofree char *same = pd_text_short ("abc", 5);
  g_assert_cmpstr (same, ==, "abc");
  g_autofree char *none = pd_text_line (NULL);
  g_assert_cmpstr (none, ==, "");
}

static void
test_columns_are_measured_in_cells (void)
{
  g_assert_cmpuint (pd_text_cells ("abc"), ==, 3);
  g_assert_cmpuint (pd_text_cells ("東京"), ==, 4);
  g_assert_cmpuint (pd_text_cells ("e\314\201"), ==, 1); /* e + combining acute */
  g_autofree char *padded = pd_text_fit ("ab", 4);
  g_assert_cmpstr (padded, ==, "ab  ");
  g_autofree char *cut = pd_text_fit ("abcdef", 4);
  g_assert_cmpstr (cut, ==, "abc…");
  /* A wide character that would straddle the edge leaves a space. */
  g_autofree char *wide = pd_text_fit ("東京都", 4);
  g_assert_cmpstr (wide, ==, "東… ");
  g_assert_cmpuint (pd_text_cells (wide), ==, 4);
}

int
main (int argc, char **argv)
{
  pd_test_init (&argc, &argv);
  g_test_add_func ("/text/line-stays-one-line", test_a_line_stays_one_line);
  g_test_add_func ("/text/escapes-visible", test_escape_sequences_and_controls_are_visible);
  g_test_add_func ("/text/ordinary-untouched", test_ordinary_text_is_untouched);
  g_test_add_func ("/text/non-utf8-bytes", test_bytes_that_are_not_utf8_show_as_bytes);
  g_test_add_func ("/text/block-keeps-lines", test_a_block_keeps_newlines_and_tabs_only);
  g_test_add_func ("/text/short-forms", test_short_forms_are_cut_with_an_ellipsis);
  g_test_add_func ("/text/cells", test_columns_are_measured_in_cells);
  return g_test_run ();
}
