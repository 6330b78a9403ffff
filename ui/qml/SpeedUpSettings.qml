// "Speed up replies" (speculative decoding) on the settings' General page, in the Engine
// section: off, prompt lookup, or a draft model chosen from the local model files. Writes
// through to AppSettings; the engine applies it to the loaded model at once (EngineHost).
import QtQuick
import QtQuick.Controls
import QtQuick.Layouts

ColumnLayout {
    id: speedUp
    objectName: "speedUpSettings"
    required property QtObject settings
    required property QtObject engine
    required property QtObject theme
    // The local model files (LocalModelsModel: path, name, fileName roles): a draft model is a
    // file on this computer, never a remote model.
    required property var localModels

    spacing: 6

    RowLayout {
        Layout.fillWidth: true
        Label {
            Layout.preferredWidth: 190
            text: qsTr("Speed up replies")
        }
        ComboBox {
            id: modeBox
            objectName: "speedUpMode"
            Layout.preferredWidth: 160
            textRole: "text"
            valueRole: "value"
            model: [{ value: "off", text: qsTr("Off") }, { value: "lookup", text: qsTr("Prompt lookup") },
                    { value: "draft", text: qsTr("Draft model") }]
            currentIndex: Math.max(0, indexOfValue(speedUp.settings.speedUp))
            onActivated: speedUp.settings.speedUp = currentValue
        }
        ComboBox {
            id: draftBox
            objectName: "draftModelBox"
            visible: speedUp.settings.speedUp === "draft"
            Layout.fillWidth: true
            Layout.maximumWidth: 300
            model: speedUp.localModels
            textRole: "fileName"
            valueRole: "path"
            currentIndex: indexOfValue(speedUp.settings.draftModelPath)
            // A chosen file that is no longer listed still shows what is saved.
            displayText: currentIndex >= 0 ? currentText
                         : speedUp.settings.draftModelPath !== "" ? speedUp.settings.draftModelPath.split("/").pop()
                         : qsTr("Choose a draft model…")
            onActivated: speedUp.settings.draftModelPath = currentValue
        }
    }
    Label {
        objectName: "speedUpHint"
        Layout.fillWidth: true
        wrapMode: Text.Wrap
        color: speedUp.theme.subtle
        text: qsTr("Drafts a few tokens ahead that the model checks at once: the same replies, sooner. Prompt lookup copies from the chat and needs nothing more; a draft model must share the model's vocabulary (e.g. Llama 3.2 1B for Llama 3.1 8B) and uses more memory.")
    }
    Label {
        objectName: "speedUpStatus"
        Layout.fillWidth: true
        visible: text !== ""
        color: speedUp.theme.subtle
        elide: Text.ElideRight
        text: speedUp.engine.modelReady && speedUp.engine.speculation !== ""
              ? qsTr("In use: %1").arg(speedUp.engine.speculation) : ""
    }
}
