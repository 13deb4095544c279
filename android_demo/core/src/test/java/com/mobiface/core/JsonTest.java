// Tests of the small JSON reader and writer.
package com.mobiface.core;

import static org.junit.Assert.assertEquals;
import static org.junit.Assert.assertNull;
import static org.junit.Assert.assertThrows;
import static org.junit.Assert.assertTrue;

import java.util.Arrays;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import org.junit.Test;

public class JsonTest {
  @Test
  public void parsesNestedValuesOfEveryType() {
    Map<String, Object> root =
        Json.parseObject(" {\"a\": [1, -2.5e2, 0.125], \"b\": {\"c\": true, \"d\": null},"
            + " \"e\": false, \"f\": \"x\"} ");
    assertEquals(Arrays.asList(1.0, -250.0, 0.125), root.get("a"));
    @SuppressWarnings("unchecked")
    Map<String, Object> b = (Map<String, Object>) root.get("b");
    assertEquals(Boolean.TRUE, b.get("c"));
    assertTrue(b.containsKey("d"));
    assertNull(b.get("d"));
    assertEquals(Boolean.FALSE, root.get("e"));
    assertEquals("x", root.get("f"));
  }

  @Test
  public void keepsKeyOrder() {
    Map<String, Object> root = Json.parseObject("{\"z\": 1, \"a\": 2, \"m\": 3}");
    assertEquals(Arrays.asList("z", "a", "m"), new java.util.ArrayList<>(root.keySet()));
  }

  @Test
  public void decodesEscapes() {
    assertEquals("q\"b\\s/n\nt\tu\u00e9", Json.parse("\"q\\\"b\\\\s\\/n\\nt\\tu\\u00e9\""));
  }

  @Test
  public void emptyContainers() {
    assertEquals(0, Json.parseObject("{}").size());
    assertEquals(0, ((List<?>) Json.parse("[ ]")).size());
  }

  @Test
  public void refusesBrokenText() {
    String[] broken = {
      "", "{", "{\"a\": 1,}", "[1, 2,]", "{\"a\" 1}", "{a: 1}", "\"open", "01", "1.", "-",
      "1e", "tru", "nul", "{\"a\": 1} x", "NaN", "{\"a\": 1, \"a\": 2}", "\"bad \\q escape\"",
      "\"tab\there\""
    };
    for (String text : broken) {
      assertThrows(text, Json.JsonException.class, () -> Json.parse(text));
    }
  }

  @Test
  public void errorNamesTheOffset() {
    Json.JsonException e =
        assertThrows(Json.JsonException.class, () -> Json.parse("{\"a\": 1, \"a\": 2}"));
    assertTrue(e.getMessage(), e.getMessage().contains("duplicate key \"a\" at offset 9"));
  }

  @Test
  public void refusesDeepNesting() {
    StringBuilder deep = new StringBuilder();
    for (int i = 0; i <= Json.MAX_DEPTH + 1; i++) {
      deep.append('[');
    }
    assertThrows(Json.JsonException.class, () -> Json.parse(deep.toString()));
  }

  @Test
  public void parseObjectRefusesOtherTypes() {
    assertThrows(Json.JsonException.class, () -> Json.parseObject("[1]"));
  }

  @Test
  public void writesAndReadsBack() {
    Map<String, Object> map = new LinkedHashMap<>();
    map.put("s", "a \"quoted\"\nline\u0001");
    map.put("i", 3);
    map.put("d", 2.75);
    map.put("whole", 12.0);
    map.put("small", 1.5e-7);
    map.put("b", true);
    map.put("n", null);
    map.put("l", Arrays.asList(1, "two"));
    String text = Json.write(map);
    assertEquals(
        "{\"s\":\"a \\\"quoted\\\"\\nline\\u0001\",\"i\":3,\"d\":2.75,\"whole\":12,"
            + "\"small\":1.5e-7,\"b\":true,\"n\":null,\"l\":[1,\"two\"]}",
        text);
    Map<String, Object> back = Json.parseObject(text);
    assertEquals(map.get("s"), back.get("s"));
    assertEquals(1.5e-7, (Double) back.get("small"), 0);
    assertEquals(Arrays.asList(1.0, "two"), back.get("l"));
  }

  @Test
  public void refusesNumbersJsonCannotHold() {
    assertThrows(Json.JsonException.class, () -> Json.write(Double.NaN));
    assertThrows(Json.JsonException.class, () -> Json.write(Double.POSITIVE_INFINITY));
  }
}
