from delivery.channels.sms import sms_size


def test_a_short_latin_text_is_one_gsm7_segment():
    size = sms_size("Power is back at 10:00. Sorry!")
    assert (size.encoding, size.segments) == ("GSM-7", 1)


def test_160_gsm7_characters_fit_one_segment_and_161_take_two():
    assert sms_size("a" * 160).segments == 1
    assert sms_size("a" * 161).segments == 2
    assert sms_size("a" * 306).segments == 2
    assert sms_size("a" * 307).segments == 3


def test_extension_characters_count_twice():
    size = sms_size("€" * 80)
    assert (size.encoding, size.characters, size.segments) == ("GSM-7", 160, 1)
    assert sms_size("€" * 81).segments == 2


def test_cyrillic_switches_to_ucs2_with_70_per_segment():
    assert sms_size("Б" * 70).segments == 1
    size = sms_size("Б" * 71)
    assert (size.encoding, size.segments) == ("UCS-2", 2)
    assert sms_size("Б" * 134).segments == 2
    assert sms_size("Б" * 135).segments == 3


def test_an_emoji_takes_two_ucs2_units():
    assert sms_size("🙂").characters == 2


def test_an_empty_text_takes_no_segment():
    assert sms_size("").segments == 0
