#pragma once
// The configuration templates stoa-lb renders HAProxy's configuration from,
// under marathon-lb's names (HAPROXY_HEAD, HAPROXY_HTTP_FRONTEND_HEAD,
// HAPROXY_FRONTEND_HEAD, HAPROXY_BACKEND_HEAD, HAPROXY_BACKEND_SERVER_OPTIONS,
// HAPROXY_HTTP_FRONTEND_ACL, ...) with the same `{variable}` placeholders, so
// a marathon-lb user's overrides work unchanged. The default texts are our
// own (docs/lb-templates.md lists every template, its variables and its default).
//
// Overrides, later ones winning: a file named after the template in the
// templates directory (marathon-lb's `templates/`), the environment variable
// of the same name, and per app the label HAPROXY_{n}_<SUFFIX> (e.g.
// HAPROXY_0_BACKEND_HEAD) for the per-service templates.

#include <map>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "common/try.hpp"

namespace stoa::lb {

struct TemplateInfo {
  std::string name;                    // "HAPROXY_BACKEND_HEAD"
  std::string default_text;
  std::string help;                    // what it renders, for --longhelp and docs
  std::vector<std::string> variables;  // placeholders it may use
  bool per_service = false;            // overridable by HAPROXY_{n}_<suffix> labels
  // Used verbatim, as marathon-lb uses it (HAPROXY_HEAD, BACKEND_HTTP_OPTIONS,
  // ...): only its own `{variable}`s are replaced and every other brace is
  // literal, so `{ ssl_fc }` needs no doubling. The others go through
  // format_template.
  bool raw = false;
};

// The catalogue entry of `name`, or nullptr.
const TemplateInfo* find_template(std::string_view name);

// Every template stoa-lb knows, in a stable order.
const std::vector<TemplateInfo>& template_catalogue();

class Templates {
 public:
  // The defaults.
  Templates();

  // Defaults, then every file of `dir` named like a known template, then
  // every environment variable named like one. A missing directory is not an
  // error (marathon-lb's behaviour); an unreadable file is.
  static Try<Templates> load(const std::string& dir, const std::map<std::string, std::string>& env);

  // The text of `name` for service port `n` of an app with `labels`: the
  // label HAPROXY_{n}_<name without HAPROXY_> when the template is
  // per-service and the label is set, else the global text.
  // REQUIRES: `name` is in the catalogue.
  const std::string& get(const std::string& name) const;
  const std::string& get(const std::string& name, const std::map<std::string, std::string>& labels,
                         int n) const;

  void set(const std::string& name, std::string text);

 private:
  std::map<std::string, std::string> texts_;
};

// Python str.format-style substitution as marathon-lb's templates use it:
// `{name}` is replaced by vars[name], `{{` and `}}` are literal braces.
// Error naming the placeholder for an unknown name or an unbalanced brace.
Try<std::string> format_template(std::string_view text, const std::map<std::string, std::string>& vars);

// Expands `text` the way template `name` is expanded: verbatim except for
// its declared `{variable}`s when the template is raw (TemplateInfo::raw),
// else format_template. The error names the template.
// REQUIRES: `name` is in the catalogue.
Try<std::string> expand_template(const std::string& name, std::string_view text,
                                 const std::map<std::string, std::string>& vars);

}  // namespace stoa::lb
