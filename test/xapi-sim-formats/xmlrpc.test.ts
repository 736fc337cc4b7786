import { describe, expect, it } from 'vitest';
import { buildOvaXml, parseOvaXml } from '../../src-sim/formats/ova-xml.js';
import {
  decodeMethodCall,
  decodeMethodResponse,
  encodeMethodCall,
  encodeMethodResponse,
} from '../../src-sim/formats/xmlrpc-message.js';
import { decodeValue, encodeValue, Int64String, XmlRpcDouble } from '../../src-sim/formats/xmlrpc-value.js';

describe('XML-RPC values', () => {
  it('encodes the way XAPI does', () => {
    expect(encodeValue('a<b&c')).toBe('<value>a&lt;b&amp;c</value>');
    expect(encodeValue(42)).toBe('<value><int>42</int></value>');
    expect(encodeValue(2 ** 31)).toBe('<value><double>2147483648</double></value>');
    expect(encodeValue(0.5)).toBe('<value><double>0.5</double></value>');
    expect(encodeValue(new XmlRpcDouble(1))).toBe('<value><double>1</double></value>');
    expect(encodeValue(new Int64String('8589934592'))).toBe('<value>8589934592</value>');
    expect(encodeValue(8589934592n)).toBe('<value>8589934592</value>');
    expect(encodeValue(true)).toBe('<value><boolean>1</boolean></value>');
    expect(encodeValue(new Date(Date.UTC(2024, 0, 31, 12, 34, 56)))).toBe(
      '<value><dateTime.iso8601>20240131T12:34:56Z</dateTime.iso8601></value>',
    );
    expect(encodeValue(['x', 1])).toBe(
      '<value><array><data><value>x</value><value><int>1</int></value></data></array></value>',
    );
    expect(encodeValue({ a: 'b' })).toBe(
      '<value><struct><member><name>a</name><value>b</value></member></struct></value>',
    );
    expect(encodeValue([])).toBe('<value><array><data></data></array></value>');
  });

  it('decodes tolerantly', () => {
    const xml = `<value>
      <struct>
        <member><name>s</name><value><string>x &amp; y</string></value></member>
        <member><name>u</name><value>untyped</value></member>
        <member><name>i4</name><value><i4>-3</i4></value></member>
        <member><name>i8</name><value><i8>9007199254740993</i8></value></member>
        <member><name>d</name><value><double>1.5</double></value></member>
        <member><name>b</name><value><boolean>0</boolean></value></member>
        <member><name>t</name><value><dateTime.iso8601>2024-01-31T12:34:56Z</dateTime.iso8601></value></member>
        <member><name>n</name><value><nil/></value></member>
        <member><name>e</name><value/></member>
        <member><name>a</name><value><array><data>
          <value><int>1</int></value>
        </data></array></value></member>
      </struct>
    </value>`;
    expect(decodeValue(xml)).toEqual({
      s: 'x & y',
      u: 'untyped',
      i4: -3,
      i8: '9007199254740993',
      d: 1.5,
      b: false,
      t: new Date(Date.UTC(2024, 0, 31, 12, 34, 56)),
      n: null,
      e: '',
      a: [1],
    });
  });

  it('round-trips nested values', () => {
    const v = {
      Status: 'Success',
      Value: [{ uuid: 'u', size: new Int64String('1'), when: new Date(0), ok: false, cr: 'a\r\nb' }],
    };
    expect(decodeValue(encodeValue(v))).toEqual({
      Status: 'Success',
      Value: [{ uuid: 'u', size: '1', when: new Date(0), ok: false, cr: 'a\r\nb' }],
    });
  });

  it('frames method calls and responses', () => {
    const call = encodeMethodCall('session.login_with_password', ['root', 'pw', '1.1', 'sluice']);
    expect(decodeMethodCall(call)).toEqual({
      methodName: 'session.login_with_password',
      params: ['root', 'pw', '1.1', 'sluice'],
    });
    expect(
      decodeMethodCall('<?xml version="1.0"?>\n<methodCall>\n <methodName>VM.get_all</methodName>\n</methodCall>'),
    ).toEqual({ methodName: 'VM.get_all', params: [] });
    expect(decodeMethodResponse(encodeMethodResponse({ Status: 'Success', Value: '' }))).toEqual({
      value: { Status: 'Success', Value: '' },
    });
  });

  it('builds and parses ova.xml', () => {
    const ova = {
      version: {
        hostname: 'h',
        date: '2024-01-31',
        product_version: '8.2.1',
        product_brand: 'XCP-ng',
        build_number: 'release/yangtze',
        xapi_major: 1,
        xapi_minor: 20,
        export_vsn: 2,
      },
      objects: [
        {
          class: 'VM',
          id: 'Ref:0',
          snapshot: { uuid: 'u', name_label: 'vm', VBDs: ['Ref:1'], memory_static_max: new Int64String('4294967296') },
        },
      ],
    };
    const xml = buildOvaXml(ova);
    expect(xml.startsWith('<value><struct>')).toBe(true);
    const parsed = parseOvaXml(xml);
    expect(parsed.version.export_vsn).toBe(2);
    expect(parsed.objects[0]).toEqual({
      class: 'VM',
      id: 'Ref:0',
      snapshot: { uuid: 'u', name_label: 'vm', VBDs: ['Ref:1'], memory_static_max: '4294967296' },
    });
  });
});
