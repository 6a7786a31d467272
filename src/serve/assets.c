/* assets.c - the files the prediction service serves from inside the binary: the web page
 * (src/serve/page.html) and the OpenAPI description (src/serve/openapi.json), included
 * byte for byte by the assembler, each followed by a NUL. The Makefile makes this object
 * depend on both files, so editing either rebuilds it. Paths are relative to the
 * repository root, where make runs the compiler. */
#include "serve/serve_internal.h"

__asm__(".section .rodata\n"
        ".balign 16\n"
        ".global at_serve_page_html\n"
        ".type at_serve_page_html, @object\n"
        "at_serve_page_html:\n"
        ".incbin \"src/serve/page.html\"\n"
        ".byte 0\n"
        ".global at_serve_page_html_end\n"
        "at_serve_page_html_end:\n"
        ".balign 16\n"
        ".global at_serve_openapi_json\n"
        ".type at_serve_openapi_json, @object\n"
        "at_serve_openapi_json:\n"
        ".incbin \"src/serve/openapi.json\"\n"
        ".byte 0\n"
        ".global at_serve_openapi_json_end\n"
        "at_serve_openapi_json_end:\n"
        ".previous\n");
