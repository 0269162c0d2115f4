/* text.h - text that came from mail, made safe to show a person.
 *
 * Everything a text view prints from a message (names, subjects, bodies,
 * file names, reasons) goes through pd_text_line or pd_text_block first, so
 * that no message can move the cursor, change colours, set a terminal
 * title, reverse the direction of the text around it or forge a line of
 * the view. What would act on a terminal is shown as a visible escape:
 *
 *   - a byte that is not part of valid UTF-8, a C0 control (U+0000..U+001F)
 *     and DEL (U+007F): \xNN, two lower-case hex digits ("\x1b" for ESC);
 *   - a C1 control (U+0080..U+009F), a bidi embedding, override or isolate
 *     (U+202A..U+202E, U+2066..U+2069) and the line and paragraph
 *     separators (U+2028, U+2029): \uNNNN ("\u202e").
 *
 * A backslash itself is left alone: the views are for reading, JSON is the
 * exact form. The functions never fail and accept NULL (an empty string).
 */
#ifndef POSTDESK_TEXT_H
#define POSTDESK_TEXT_H

#include "postdesk/common.h"

/* One line, whatever 'text' holds: a newline shows as \x0a and a tab as a
 * space (transfer full). */
char *pd_text_line (const char *text);

/* 'len' bytes of 'data' (-1: up to the NUL; other lengths may hold NUL
 * bytes) as lines: newlines and tabs stay, CRLF becomes a newline, every
 * other control is escaped as above (transfer full). */
char *pd_text_block (const char *data, gssize len);

/* pd_text_line, cut to at most 'max_chars' characters with an ellipsis, for
 * echoing input that may be anything, such as a line of a configuration
 * file (transfer full). */
char *pd_text_short (const char *text, guint max_chars);

/* The number of terminal cells 'text' (valid UTF-8, as the functions above
 * return) takes: East Asian wide characters take two, combining marks none. */
guint pd_text_cells (const char *text);

/* 'text' (valid UTF-8 without controls) in exactly 'cells' terminal cells:
 * cut with an ellipsis when longer, padded with spaces when shorter
 * (transfer full). */
char *pd_text_fit (const char *text, guint cells);

#endif
