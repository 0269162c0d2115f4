/* fuzz_mime.c - libFuzzer target: one input is one raw message, read the
 * way ingest reads every message it is handed.
 *
 * Everything an attacker's mail reaches before a person sees it runs here:
 * the shape pre-pass and GMime through pd_mime_parse (with attachment
 * bytes kept, as ingest keeps them), the duplicate hash over the raw bytes,
 * and the HTML-to-text converter. The converter is also fed the input
 * directly, because a parse only reaches it through a well-formed text/html
 * part and the fuzzer would spend most of its time rebuilding MIME framing
 * to explore libxml2's side.
 */

#include "fuzz.h"
#include "postdesk/mime.h"

int
LLVMFuzzerInitialize (int *argc, char ***argv)
{
  (void) argc;
  (void) argv;
  pd_fuzz_init_logs ();
  pd_mime_init ();
  return 0;
}

int
LLVMFuzzerTestOneInput (const uint8_t *data, size_t size)
{
  const char *raw = (const char *) data;

  GError *err = NULL;
  pd_message_t *msg = pd_mime_parse (raw, size, PD_MIME_WANT_CONTENT, &err);
  /* Exactly one of the two comes back: a message, or the reason there is
   * none. Anything else is a bug the caller could not handle. */
  if ((msg == NULL) == (err == NULL))
    __builtin_trap ();
  if (msg != NULL)
    {
      /* The promises of mime.h that everything downstream relies on. */
      if (msg->message_id == NULL || msg->subject == NULL || msg->body_text == NULL
          || !g_utf8_validate (msg->subject, -1, NULL) || !g_utf8_validate (msg->body_text, -1, NULL)
          || msg->bounce != (msg->bounce_detail != NULL))
        __builtin_trap ();
      for (guint i = 0; i < msg->attachments->len; i++)
        {
          const pd_attachment_t *att = g_ptr_array_index (msg->attachments, i);
          if (att->filename == NULL || att->mime_type == NULL
              || (att->content != NULL && g_bytes_get_size (att->content) != att->size))
            __builtin_trap ();
        }
    }
  pd_message_free (msg);
  g_clear_error (&err);

  g_free (pd_mime_content_hash (raw, size));

  char *text = pd_html_to_text (raw, size);
  if (!g_utf8_validate (text, -1, NULL))
    __builtin_trap ();
  g_free (text);
  return 0;
}
