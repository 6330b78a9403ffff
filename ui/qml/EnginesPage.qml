// Settings → Engines: OpenAI-compatible servers (vLLM, SGLang, llama.cpp's llama-server, Ollama,
// another LlamaDesk) whose models the model picker offers beside the local files. Each engine
// shows its URL and whether a key is set; "Test connection" lists its models (on a pool thread,
// the page stays live) or says plainly why it could not. Keys go to the desktop keyring; the
// note at the top says when there is none and they are kept for this session only.
import QtQuick
import QtQuick.Controls
import QtQuick.Dialogs
import QtQuick.Layouts

ScrollView {
    id: page
    required property QtObject theme
    required property QtObject engines   // ui::EnginesModel
    required property QtObject settings  // for the file dialog's folder
    objectName: "settingsEnginesPage"
    contentWidth: availableWidth
    property string message: ""
    property bool messageIsError: false

    function report(error, done) {
        message = error.length > 0 ? error : done
        messageIsError = error.length > 0
        return error.length === 0
    }

    ColumnLayout {
        width: page.availableWidth
        spacing: 8

        Label {
            text: qsTr("Remote engines")
            font.bold: true
            font.pixelSize: 15
            topPadding: 10
        }
        Label {
            Layout.fillWidth: true
            wrapMode: Text.Wrap
            color: page.theme.subtle
            text: qsTr("Servers that speak the OpenAI API, for models bigger than this machine. Their models appear in the model picker, marked as remote.")
        }
        Label {
            objectName: "engineKeyStorageNote"
            Layout.fillWidth: true
            wrapMode: Text.Wrap
            padding: page.engines.keyStorage === "session" ? 6 : 0
            color: page.theme.text
            text: page.engines.keyStorageNote
            background: Rectangle {
                visible: page.engines.keyStorage === "session"
                color: page.theme.noticeBackground
                radius: 4
            }
        }
        Label {
            visible: engineList.count === 0
            text: qsTr("No engines yet.")
            color: page.theme.subtle
        }

        Repeater {
            id: engineList
            model: page.engines
            delegate: Rectangle {
                id: row
                required property int index
                required property string name
                required property string baseUrl
                required property string caFile
                required property bool hasKey
                required property bool testing
                required property bool tested
                required property bool testOk
                required property string testResult
                property bool editingKey: false
                objectName: "engineRow"
                Layout.fillWidth: true
                implicitHeight: rowColumn.implicitHeight + 16
                radius: 6
                color: page.theme.base
                border.color: row.tested && !row.testOk ? page.theme.error : page.theme.border
                ColumnLayout {
                    id: rowColumn
                    x: 10
                    y: 8
                    width: parent.width - 20
                    RowLayout {
                        Layout.fillWidth: true
                        Label {
                            text: row.name
                            font.bold: true
                            textFormat: Text.PlainText
                        }
                        Label {
                            objectName: "engineKeyState"
                            Layout.fillWidth: true
                            elide: Text.ElideRight
                            color: page.theme.subtle
                            text: row.hasKey ? qsTr("API key set") : qsTr("no API key")
                        }
                        Button {
                            objectName: "engineTestButton"
                            text: qsTr("Test connection")
                            enabled: !row.testing
                            onClicked: page.engines.testConnection(row.index)
                        }
                        Button {
                            objectName: "engineChangeKeyButton"
                            text: row.hasKey ? qsTr("Change key…") : qsTr("Set key…")
                            onClicked: row.editingKey = !row.editingKey
                        }
                        Button {
                            objectName: "engineRemoveButton"
                            text: qsTr("Remove")
                            onClicked: {
                                const name = row.name
                                page.engines.remove(row.index)
                                page.report("", qsTr("Removed %1.").arg(name))
                            }
                        }
                    }
                    Label {
                        Layout.fillWidth: true
                        elide: Text.ElideMiddle
                        textFormat: Text.PlainText
                        font.family: page.theme.monospace
                        font.pixelSize: 11
                        text: row.baseUrl + (row.caFile.length > 0 ? qsTr("  ·  CA %1").arg(row.caFile) : "")
                    }
                    RowLayout {
                        visible: row.editingKey
                        Layout.fillWidth: true
                        TextField {
                            id: keyEdit
                            objectName: "engineKeyEdit"
                            Layout.fillWidth: true
                            echoMode: TextInput.Password
                            placeholderText: qsTr("new API key (empty: none)")
                        }
                        Button {
                            objectName: "engineSaveKeyButton"
                            text: qsTr("Save key")
                            onClicked: {
                                if (page.report(page.engines.setApiKey(row.index, keyEdit.text), qsTr("Key saved."))) {
                                    keyEdit.text = ""
                                    row.editingKey = false
                                }
                            }
                        }
                    }
                    RowLayout {
                        visible: row.testing || row.tested
                        Layout.fillWidth: true
                        BusyIndicator {
                            visible: row.testing
                            running: row.testing
                            Layout.preferredWidth: 22
                            Layout.preferredHeight: 22
                        }
                        Label {
                            objectName: "engineTestResult"
                            Layout.fillWidth: true
                            wrapMode: Text.Wrap
                            textFormat: Text.PlainText
                            color: row.testing ? page.theme.subtle : row.testOk ? page.theme.text : page.theme.error
                            text: row.testing ? qsTr("Asking for the model list…") : row.testResult
                        }
                    }
                }
            }
        }

        Label {
            text: qsTr("Add an engine")
            font.bold: true
            topPadding: 10
        }
        RowLayout {
            Label { text: qsTr("Server"); Layout.preferredWidth: 90 }
            ComboBox {
                id: presetBox
                objectName: "enginePresetBox"
                Layout.preferredWidth: 260
                textRole: "label"
                model: [{ kind: "", label: qsTr("Other (OpenAI-compatible)"), baseUrl: "", help: "" }].concat(page.engines.presets)
                onActivated: {
                    const p = model[currentIndex]
                    if (p.baseUrl.length > 0) urlField.text = p.baseUrl
                    // Suggest the preset's name unless the user typed one of their own.
                    if (nameField.text.length === 0 || nameField.suggested) {
                        nameField.text = p.kind.length > 0 ? p.label : ""
                        nameField.suggested = true
                    }
                }
            }
        }
        Label {
            objectName: "enginePresetHelp"
            Layout.fillWidth: true
            visible: text.length > 0
            wrapMode: Text.Wrap
            textFormat: Text.PlainText
            font.family: page.theme.monospace
            font.pixelSize: 11
            color: page.theme.subtle
            text: presetBox.currentIndex >= 0 ? presetBox.model[presetBox.currentIndex].help : ""
        }
        RowLayout {
            Label { text: qsTr("Name"); Layout.preferredWidth: 90 }
            TextField {
                id: nameField
                objectName: "engineNameField"
                property bool suggested: false
                Layout.fillWidth: true
                placeholderText: qsTr("GPU server")
                onTextEdited: suggested = false
            }
        }
        RowLayout {
            Label { text: qsTr("Base URL"); Layout.preferredWidth: 90 }
            TextField {
                id: urlField
                objectName: "engineUrlField"
                Layout.fillWidth: true
                placeholderText: "http://host:8000/v1"
                inputMethodHints: Qt.ImhUrlCharactersOnly
            }
        }
        RowLayout {
            Label { text: qsTr("API key"); Layout.preferredWidth: 90 }
            TextField {
                id: keyField
                objectName: "engineKeyField"
                Layout.fillWidth: true
                echoMode: TextInput.Password
                placeholderText: qsTr("optional")
            }
        }
        RowLayout {
            Label { text: qsTr("CA file"); Layout.preferredWidth: 90 }
            TextField {
                id: caField
                objectName: "engineCaField"
                Layout.fillWidth: true
                placeholderText: qsTr("optional: PEM file of a private CA (https)")
            }
            Button {
                text: qsTr("Choose…")
                onClicked: caDialog.open()
            }
        }
        RowLayout {
            Button {
                objectName: "engineDraftTestButton"
                text: qsTr("Test")
                enabled: urlField.text.length > 0 && !page.engines.draftTesting
                onClicked: page.engines.testDraft(urlField.text, keyField.text, caField.text)
            }
            Button {
                objectName: "engineAddButton"
                text: qsTr("Add engine")
                enabled: nameField.text.length > 0 && urlField.text.length > 0
                onClicked: {
                    const name = nameField.text.trim()
                    if (page.report(page.engines.add(nameField.text, urlField.text, keyField.text, caField.text),
                                    qsTr("Added %1.").arg(name))) {
                        nameField.text = ""
                        urlField.text = ""
                        keyField.text = ""
                        caField.text = ""
                        presetBox.currentIndex = 0
                    }
                }
            }
            BusyIndicator {
                visible: page.engines.draftTesting
                running: page.engines.draftTesting
                Layout.preferredWidth: 22
                Layout.preferredHeight: 22
            }
        }
        Label {
            objectName: "engineDraftResult"
            Layout.fillWidth: true
            visible: text.length > 0 && !page.engines.draftTesting
            wrapMode: Text.Wrap
            textFormat: Text.PlainText
            color: page.engines.draftOk ? page.theme.text : page.theme.error
            text: page.engines.draftResult
        }
        Label {
            objectName: "engineMessage"
            Layout.fillWidth: true
            visible: page.message.length > 0
            wrapMode: Text.Wrap
            textFormat: Text.PlainText
            color: page.messageIsError ? page.theme.error : page.theme.subtle
            text: page.message
        }
    }

    FileDialog {
        id: caDialog
        objectName: "engineCaFileDialog"
        title: qsTr("Trusted CA certificate")
        nameFilters: [qsTr("PEM certificates (*.pem *.crt)"), qsTr("All files (*)")]
        currentFolder: page.settings.dialogFolder
        onAccepted: {
            page.settings.rememberDialogFolder(selectedFile)
            caField.text = decodeURIComponent(selectedFile.toString().replace(/^file:\/\//, ""))
        }
    }
}
