// The error for a metadata JSON file that breaks the mobiface-metadata/1 contract.
package com.mobiface.core;

/** A metadata file that cannot be used; the message starts with the file's name. */
public final class MetadataException extends IllegalArgumentException {
  private static final long serialVersionUID = 1L;

  public MetadataException(String source, String problem) {
    super(source + ": " + problem);
  }
}
