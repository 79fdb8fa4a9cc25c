"""Words that say "this is program code" and nothing about which program: keywords and idioms.

Two unrelated Python files share runs like ``def __repr__(self): return '%s(%s)' %
(self.__class__.__name__, ...``: twelve words in sequence that prove nothing. Such
tokens are not evidence by themselves; a verbatim run must also carry enough *content*
tokens (identifiers, literals, prose) to count (`detectors.documents`).

The lists are the reserved words of the languages' own specifications (Python's from
the running interpreter's `keyword` and `builtins` modules and the data model's special
method names), plus the receiver and parameter names every code base uses.
"""

from __future__ import annotations

import builtins
import keyword

# Special method names of Python's data model (the words inside __x__), beyond dir(object).
_PYTHON_DUNDERS = """
init new del repr str bytes format lt le eq ne gt ge hash bool getattr getattribute setattr delattr dir
get set delete set_name slots init_subclass class_getitem call len length_hint getitem setitem delitem
missing iter reversed contains add sub mul matmul truediv floordiv mod divmod pow lshift rshift and xor or
radd rsub rmul rmatmul rtruediv rfloordiv rmod rdivmod rpow rlshift rrshift rand rxor ror iadd isub imul
imatmul itruediv ifloordiv imod ipow ilshift irshift iand ixor ior neg pos abs invert complex int float
index round trunc floor ceil enter exit await aiter anext aenter aexit name qualname module doc dict
annotations file main all version author slots weakref mro bases subclasses sizeof reduce reduce_ex
getstate setstate copy deepcopy fspath post_init match_args dataclass_fields
"""

_IDIOMS = """
self cls this that args kwargs argv argc ctx err error e ex exc result res ret val value values obj
key keys item items tmp temp buf data param params opts options config cfg fn func callback cb
"""

# Reserved words from the language specifications.
_LANGUAGES = """
auto break case char const continue default do double else enum extern float for goto if inline int long
register restrict return short signed sizeof static struct switch typedef union unsigned void volatile while
alignas alignof asm bool catch class constexpr const_cast decltype delete dynamic_cast explicit export false
friend mutable namespace new noexcept nullptr operator private protected public reinterpret_cast
static_assert static_cast template throw true try typeid typename using virtual wchar_t override final
abstract assert boolean byte extends implements import instanceof interface native package strictfp super
synchronized throws transient var record sealed permits yield
as base checked decimal delegate event fixed foreach implicit in internal is lock null object out params
readonly ref sbyte stackalloc string uint ulong unchecked unsafe ushort get set value async await dynamic
nameof partial where
function let typeof undefined arguments debugger with of await instanceof declare type keyof readonly
never unknown any number symbol bigint module require exports
chan defer fallthrough func go map range select struct
crate dyn fn impl loop match mod move mut pub self Self trait unsafe use where
select from where and or not insert into values update delete create table drop alter index join left
right inner outer on group by order having limit offset union all distinct as is null like between exists
primary key foreign references varchar integer text boolean default
then fi elif esac done echo local export
println printf print console log main std include define ifdef ifndef endif pragma
"""


def code_words() -> frozenset[str]:
    """Lower-cased keywords, built-in names, dunder and idiom words of common languages."""
    words = {w.lower() for w in keyword.kwlist + keyword.softkwlist}
    words |= {name.lower().strip("_") for name in dir(builtins) if name.isidentifier()}
    words |= {name.strip("_") for name in dir(object)}
    for block in (_PYTHON_DUNDERS, _IDIOMS, _LANGUAGES):
        words |= {w.lower() for w in block.split()}
    return frozenset(w for w in words if w)
