"""Form fields written in Python: the very HTML of crispy-forms' bootstrap5 field template and of
Django's widget templates, without rendering those templates.

Why: a form field rendered by `|as_crispy_field` runs crispy's field.html with its nested
includes, then Django's widget template (and one include per <option>): ~0.4 ms of CPU a field.
The discovery call page has 17 fields (~6.5 ms of its ~20 ms, bench/pages.py at 1M leads), the
lead page 7. Written in Python the same HTML takes a few µs a field.

- `WidgetRenderer` is Django's form renderer (settings.FORM_RENDERER) writing the common widget
  templates (the <input> types, <textarea>, <select>) in Python; any other template, or an
  <option> with a template of its own, is rendered by the templates as before. Every form on
  every page uses it, with the same output.
- `crispy_field(bound_field)` is crispy's `as_crispy_field` for the fields our pages show: a
  visible field on a form without a FormHelper, drawn as a text-like input, a select or radio
  buttons. Anything else (a checkbox, a file, a multi-widget, a helper's layout) is handed to
  crispy itself. Templates use it as `{{ form.field|as_field }}` (leads_extras).

tests/test_formrender.py compares both with the templates byte for byte, field by field, for our
forms (bound, unbound, with errors): an upgrade of crispy or Django that changes their HTML fails
there, and this file follows.
"""

from __future__ import annotations

import copy
import html
from collections.abc import Callable, Iterable

from django import forms
from django.conf import settings
from django.forms.renderers import DjangoTemplates
from django.utils.formats import localize
from django.utils.safestring import SafeData, SafeString, mark_safe
from django.utils.timezone import template_localtime

SELECT_OPTION = "django/forms/widgets/select_option.html"


def fixed_choices(choices: Iterable) -> Callable[[], list]:
    """A field's constant choices, given as a function (Django's callable choices).

    Every form instance deep-copies its fields; a choice field's list is copied then normalised
    again for its widget on each copy (50–150 µs a field, a few hundred µs a form), where a
    function is copied as is. Django calls it when the choices are used: to check a submitted
    value, to draw the field. Same choices, same validation, same HTML. For fields a page seldom
    uses (the lead list's drill-down filters); not for fields drawn on every view: drawing a
    field reads its choices a few times, and the function's list is normalised each time (the
    discovery call form gained nothing)."""
    normalized = list(choices)
    return lambda: normalized


# --- Copying a form's fields -------------------------------------------------------------------
#
# Every form instance deep-copies its class's fields (BaseForm.__init__: copy.deepcopy(
# base_fields)); through copy.deepcopy's dispatch and copy.copy's __reduce_ex__ that took ~470 µs
# for the lead list's 19 filter fields, ~330 µs for the call form's 17, on every view. The
# fields' own __deepcopy__ methods copy little (the field and its widget shallowly; their attrs,
# error messages, validators, choices; a model choice field's queryset cloned): `_field_copy`
# does the same for the field and widget classes whose __deepcopy__ is Django's own, and hands
# any other (a multi-value field, a multi-widget) to copy.deepcopy. tests/test_formrender.py
# compares both copies attribute by attribute for every form of the project.

_new = object.__new__


def _shallow(obj):
    """copy.copy(obj) for a plain object (no __copy__, no __setstate__ of its own)."""
    cls = type(obj)
    if hasattr(cls, "__copy__") or hasattr(cls, "__setstate__"):
        return copy.copy(obj)
    copied = _new(cls)
    copied.__dict__.update(obj.__dict__)
    return copied


def _widget_copy(widget: forms.Widget) -> forms.Widget:
    copy_method = type(widget).__deepcopy__
    if copy_method not in (forms.Widget.__deepcopy__, forms.widgets.ChoiceWidget.__deepcopy__):
        return copy.deepcopy(widget)
    copied = _shallow(widget)
    copied.attrs = widget.attrs.copy()
    if copy_method is forms.widgets.ChoiceWidget.__deepcopy__:
        copied.choices = copy.copy(widget.choices)
    return copied


def _field_copy(field: forms.Field) -> forms.Field:
    copy_method = type(field).__deepcopy__
    if copy_method not in (
        forms.Field.__deepcopy__,
        forms.ChoiceField.__deepcopy__,
        forms.ModelChoiceField.__deepcopy__,
    ):
        return copy.deepcopy(field)
    copied = _shallow(field)
    copied.widget = _widget_copy(field.widget)
    copied.error_messages = field.error_messages.copy()
    copied.validators = field.validators[:]
    if copy_method is forms.ChoiceField.__deepcopy__:
        copied._choices = copy.deepcopy(field._choices)
    elif copy_method is forms.ModelChoiceField.__deepcopy__ and field.queryset is not None:
        copied.queryset = field.queryset.all()
    return copied


class _QuickCopyFields(dict):
    def __deepcopy__(self, memo) -> dict[str, forms.Field]:
        return {name: _field_copy(field) for name, field in self.items()}


def quick_field_copies(form_class: type[forms.BaseForm]) -> type[forms.BaseForm]:
    """Class decorator: the form's instances copy its fields with `_field_copy` (see above).
    For forms drawn on the busiest pages (the lead list's filter bar, the discovery call)."""
    form_class.base_fields = _QuickCopyFields(form_class.base_fields)
    return form_class


ASTERISK = '<span class="asteriskField">*</span>'


def _text(value) -> str:
    """`{{ value }}` in a template: local time, localized, escaped unless safe (Django's
    conditional_escape, without its lazy-string wrapper: most values here are plain strings)."""
    if type(value) is not str:
        value = localize(template_localtime(value))
        if hasattr(value, "__html__"):
            return value.__html__()
    return html.escape(str(value))


def _formatted(value) -> str:
    """`{{ value|stringformat:'s' }}`: formatted with %s, escaped unless the value was safe."""
    if type(value) is str:
        return html.escape(value)
    if isinstance(value, tuple):
        value = str(value)
    try:
        formatted = "%s" % value  # noqa: UP031 - the filter's own formatting
    except (ValueError, TypeError):
        return ""
    return formatted if isinstance(value, SafeData) else html.escape(formatted)


def _unlocalized(value) -> str:
    """`{{ value|unlocalize }}`."""
    return html.escape(str(localize(value, use_l10n=False)))


def _attrs(attrs: dict) -> str:
    """django/forms/widgets/attrs.html (crispy's bootstrap5/layout/attrs.html is the same)."""
    out = []
    for name, value in attrs.items():
        if value is not False:
            out.append(f" {_text(name)}" if value is True else f' {_text(name)}="{_formatted(value)}"')
    return "".join(out)


def _input(w: dict) -> str:
    value = "" if w["value"] == None else f' value="{_formatted(w["value"])}"'  # noqa: E711 - the template's `!= None`
    return f'<input type="{_text(w["type"])}" name="{_text(w["name"])}"{value}{_attrs(w["attrs"])}>'


def _textarea(w: dict) -> str:
    return f'<textarea name="{_text(w["name"])}"{_attrs(w["attrs"])}>\n{_text(w["value"]) if w["value"] else ""}</textarea>'


def _select(w: dict) -> str | None:
    out = [f'<select name="{_text(w["name"])}"{_attrs(w["attrs"])}>']
    for group_name, group_choices, _index in w["optgroups"]:
        if group_name:
            out.append(f'\n  <optgroup label="{_text(group_name)}">')
        for option in group_choices:
            if option["template_name"] != SELECT_OPTION:
                return None
            out.append(
                f'\n  <option value="{_formatted(option["value"])}"{_attrs(option["attrs"])}>{_text(option["label"])}</option>\n'
            )
        if group_name:
            out.append("\n  </optgroup>")
    out.append("\n</select>")
    return "".join(out)


_INPUT_TYPES = ["text", "number", "email", "url", "password", "hidden", "date", "datetime", "time", "search"]
_WRITERS = {
    **{f"django/forms/widgets/{name}.html": _input for name in [*_INPUT_TYPES, "tel", "color", "checkbox"]},
    "django/forms/widgets/input.html": _input,
    "django/forms/widgets/textarea.html": _textarea,
    "django/forms/widgets/select.html": _select,
}


class WidgetRenderer(DjangoTemplates):
    """Django's default form renderer, writing the common widget templates in Python (same HTML)."""

    def render(self, template_name, context, request=None):
        write = _WRITERS.get(template_name)
        if write is not None:
            html = write(context["widget"])
            if html is not None:
                return html
        return super().render(template_name, context, request=request)


# --- crispy-forms' bootstrap5/field.html, for a field on a form without a helper ---------------


def _errors_block(bf, errors) -> str:
    """bootstrap5/layout/field_errors_block.html."""
    if not errors:
        return "\n"
    items = "".join(
        f'\n        <p id="error_{n}_{_text(bf.auto_id)}"><strong>{_text(e)}</strong></p>\n    '
        for n, e in enumerate(errors, start=1)
    )
    return f'\n    <div id="{_text(errors.field_id)}_error" class="invalid-feedback">\n    {items}\n    </div>\n\n'


def _help_text(bf) -> str:
    """bootstrap5/layout/help_text.html (not inline)."""
    if not bf.help_text:
        return "\n"
    id_attr = f'id="{_text(bf.auto_id)}_helptext" ' if bf.auto_id else ""
    return f'\n    \n        <div {id_attr}class="form-text">{bf.help_text}</div>\n    \n\n'


def _radio_errors(bf, errors) -> str:
    return f"\n            {_errors_block(bf, errors)}\n        "


def _radios(bf, errors) -> str:
    """bootstrap5/layout/radio_checkbox_select.html, for radio buttons (crispy's optgroups filter)."""
    from crispy_forms.templatetags.crispy_forms_filters import optgroups

    invalid = " is-invalid" if errors else ""
    name = _text(bf.html_name)
    groups = list(optgroups(bf))
    out = ["\n\n\n<div >\n\n    "]
    for g, (group, options, _index) in enumerate(groups):
        out.append(f"\n    {f'<strong>{_text(group)}</strong>' if group else ''}\n    ")
        for o, option in enumerate(options):
            last = errors and o == len(options) - 1 and g == len(groups) - 1
            out.append(
                f'\n      <div class="form-check">\n        <input type="{_text(option["type"])}"'
                f' class="form-check-input{invalid}"  name="{name}" value="{_unlocalized(option["value"])}" '
                f'{_attrs(option["attrs"])}>\n        <label for="{_text(option["attrs"].get("id", ""))}"'
                f' class="form-check-label">\n            {_unlocalized(option["label"])}\n        </label>\n        '
                f"{_radio_errors(bf, errors) if last else ''}"
                "\n     </div>\n    "
            )
        out.append("\n    ")
    out.append(f"\n\n</div>\n\n{_help_text(bf)}\n")
    return "".join(out)


def _crispy_class(widget, classes: str) -> None:
    """What crispy's {% crispy_field field 'class' '...' %} does to the widget before rendering it."""
    class_name = widget.__class__.__name__.lower()
    class_name = getattr(settings, "CRISPY_CLASS_CONVERTERS", {}).get(class_name, class_name)
    css_class = widget.attrs.get("class", "")
    if css_class:
        if css_class.find(class_name) == -1:
            css_class += f" {class_name}"
    else:
        css_class = class_name
    widget.attrs["class"] = css_class
    for c in classes.split():
        if c not in widget.attrs["class"].split():
            widget.attrs["class"] += " " + c


def _is_ours(bf) -> bool:
    """A field this module draws as crispy would; anything else goes to crispy."""
    widget = bf.field.widget
    return (
        getattr(bf.form, "helper", None) is None
        and settings.CRISPY_TEMPLATE_PACK == "bootstrap5"
        and not bf.is_hidden
        and not hasattr(widget, "widget")
        and not hasattr(widget, "widgets")
        and not isinstance(widget, forms.CheckboxInput | forms.FileInput | forms.CheckboxSelectMultiple)
    )


def crispy_field(bf) -> SafeString:
    """`bf|as_crispy_field` (crispy-bootstrap5's field.html with crispy's defaults), in Python."""
    if not _is_ours(bf):
        from crispy_forms.templatetags.crispy_forms_filters import as_crispy_field

        return as_crispy_field(bf)
    widget = bf.field.widget
    errors = bf.errors
    radio = isinstance(widget, forms.RadioSelect)
    fieldset = bf.use_fieldset
    css = bf.css_classes()
    out = [
        f'\n\n\n    \n    <div id="div_{_text(bf.auto_id)}" class="mb-3{f" {_text(css)}" if css else ""}">\n        '
    ]
    if bf.label:
        required = bf.field.required
        tag = "legend" if fieldset else "label"
        opening = ""
        if fieldset:
            described = bf.aria_describedby
            opening = f'<fieldset aria-describedby="{_text(described)}">' if described else "<fieldset>"
        label_for = f'for="{_text(bf.id_for_label)}"' if bf.id_for_label else ""
        out.append(
            f"\n            {opening}\n            <{tag}\n                {label_for}"
            f' class="form-label{" requiredField" if required else ""}{" fs-6" if fieldset else ""}">\n'
            f"                {_text(bf.label)}{ASTERISK if required else ''}\n"
            f"            </{tag}>\n        "
        )
    out.append("\n\n        ")
    if radio:
        out.append(f"\n            {_radios(bf, errors)}\n        \n\n        ")
    else:
        select = isinstance(widget, forms.Select)
        _crispy_class(widget, ("form-select" if select else "form-control") + (" is-invalid" if errors else ""))
        if select:
            drawn = f"\n                        \n                            {bf}\n                        \n                    "
        else:
            drawn = f"\n                        {bf}\n                    "
        help_and_errors = f"\n\n\n    {_errors_block(bf, errors)}\n\n\n\n    {_help_text(bf)}\n\n"
        out.append(
            f"\n\n        \n            \n                \n                    {drawn}\n                    \n"
            f"                        {help_and_errors}\n                    \n                \n            \n        "
        )
    out.append("\n        ")
    if fieldset and bf.label:
        out.append("</fieldset>")
    out.append("\n    </div>\n    \n\n")
    return mark_safe("".join(out))  # noqa: S308 - every value above is escaped (or help text, as crispy: |safe)
