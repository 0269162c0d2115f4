/* fuzz_template.c - libFuzzer target: one input is one template file,
 * parsed as `postdesk templates check` parses it and, when it parses,
 * rendered as the outbox renders an acknowledgement.
 *
 * The values are fixed and chosen to reach every path of the renderer:
 * every variable of the set has one; some texts are empty (inverted
 * sections), some carry what a value must never smuggle into a message
 * (line breaks, tabs, control characters, a bidi override); booleans are
 * both true and false; and there are tags, so {{#tags}} repeats.
 */
#include <string.h>

#include "fuzz.h"
#include "postdesk/template.h"

static pd_tvars_t *fixed_values; /* owned for the life of the process */

int
LLVMFuzzerInitialize (int *argc, char ***argv)
{
  (void) argc;
  (void) argv;
  pd_fuzz_init_logs ();
  fixed_values = pd_tvars_new ();
  const pd_tvar_info_t *info = pd_template_variables ();
  for (guint i = 0; info[i].name != NULL; i++)
    {
      /* The renderer sets {{tag}} itself, once per tag. */
      if (strcmp (info[i].name, "tag") == 0)
        continue;
      if (info[i].kind == PD_TVAR_BOOL)
        pd_tvars_set_bool (fixed_values, info[i].name, i % 2 == 0);
      else if (info[i].kind == PD_TVAR_TEXT && i % 4 == 3)
        pd_tvars_set (fixed_values, info[i].name, "");
      else if (info[i].kind == PD_TVAR_TEXT && i % 4 == 2)
        pd_tvars_set (fixed_values, info[i].name,
                      "two\nlines\r\nand\ta \x1b[2Jcontrol \xe2\x80\xae" "bidi");
      else if (info[i].kind == PD_TVAR_TEXT)
        pd_tvars_set (fixed_values, info[i].name, info[i].name);
    }
  pd_tvars_add_tag (fixed_values, "outage");
  pd_tvars_add_tag (fixed_values, "logs");
  pd_tvars_add_tag (fixed_values, "data-loss");
  return 0;
}

int
LLVMFuzzerTestOneInput (const uint8_t *data, size_t size)
{
  pd_template_t *t = NULL;
  GError *err = NULL;
  bool parsed = pd_template_parse ("fuzz.tmpl", (const char *) data, size, &t, &err);
  if (parsed != (t != NULL) || parsed == (err != NULL))
    __builtin_trap ();
  g_clear_error (&err);
  if (parsed)
    {
      pd_rendered_t *r = NULL;
      bool rendered = pd_template_render (t, fixed_values, &r, &err);
      if (rendered != (r != NULL) || rendered == (err != NULL))
        __builtin_trap ();
      if (rendered)
        {
          /* What template.h promises of every rendered message: a
           * one-line subject and header values, and a body that is UTF-8
           * ending in one newline. */
          if (r->subject[0] == '\0' || strpbrk (r->subject, "\r\n") != NULL
              || !g_utf8_validate (r->body, -1, NULL) || !g_str_has_suffix (r->body, "\n"))
            __builtin_trap ();
          for (guint i = 0; i < r->headers->len; i++)
            {
              const pd_template_header_t *h = g_ptr_array_index (r->headers, i);
              if (strpbrk (h->value, "\r\n") != NULL || !g_utf8_validate (h->value, -1, NULL))
                __builtin_trap ();
            }
        }
      pd_rendered_free (r);
      g_clear_error (&err);
    }
  pd_template_free (t);
  return 0;
}
