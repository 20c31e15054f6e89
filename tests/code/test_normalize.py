from cppcc_themes.features.normalize import (
    normalize_text,
    strip_pinyin,
    to_half_width,
    to_simplified,
)


def test_pinyin_glosses_are_stripped():
    assert strip_pinyin("政協(xié)忻州市委員會") == "政協忻州市委員會"
    assert strip_pinyin("堅(jiān)持黨的領(lǐng)導(dǎo)") == "堅持黨的領導"


def test_brackets_that_are_not_pinyin_stay():
    assert strip_pinyin("黨組(中心組)學習") == "黨組(中心組)學習"
    assert strip_pinyin("(一)突出党建引领") == "(一)突出党建引领"
    assert strip_pinyin("推广应用(app)") == "推广应用(app)"


def test_traditional_becomes_simplified():
    assert to_simplified("協商議政,凝聚共識") == "协商议政,凝聚共识"


def test_full_width_forms_become_half_width():
    assert to_half_width("２０２３年，ＡＢＣ（一）") == "2023年,ABC(一)"


def test_normalize_text_on_the_traditional_seed(seed_paths):
    raw = seed_paths["seed-002"].read_text(encoding="utf-8")
    text = normalize_text(raw)
    assert "(xié)" not in text and "協" not in text
    assert "政协忻州市委员会" in text


def test_spaces_between_han_characters_are_layout():
    assert normalize_text("本报记者 何龙 摄") == "本报记者何龙摄"
    assert normalize_text("COVID 19 疫情") == "COVID 19 疫情"


def test_mangled_gloss_leaves_no_latin_behind():
    assert strip_pinyin("深入?yún)f(xié)商議政") == "深入商議政"
